using System.Text;
using System.Text.Json;
using Alora.Data;
using Parquet.Serialization;

namespace Alora.Tests.Data;

// Row types whose property names are the official field names, written as JSON, JSON Lines and Parquet.
public sealed class SciQRow
{
    public string question { get; set; } = "";
    public string distractor3 { get; set; } = "";
    public string distractor1 { get; set; } = "";
    public string distractor2 { get; set; } = "";
    public string correct_answer { get; set; } = "";
    public string support { get; set; } = "";
}

public sealed class PiqaRow
{
    public string goal { get; set; } = "";
    public string sol1 { get; set; } = "";
    public string sol2 { get; set; } = "";
    public long label { get; set; }
}

public sealed class MedMcqaRow
{
    public string id { get; set; } = "";
    public string question { get; set; } = "";
    public string opa { get; set; } = "";
    public string opb { get; set; } = "";
    public string opc { get; set; } = "";
    public string opd { get; set; } = "";
    public long cop { get; set; }
    public string? exp { get; set; }
    public string subject_name { get; set; } = "";
}

public sealed class GenericRow
{
    public string question { get; set; } = "";
    public List<string> choices { get; set; } = [];
    public long answer { get; set; }
    public string? context { get; set; }
}

public class McqLayoutTests
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    internal static string WriteRows<T>(ScratchDir dir, string format, IReadOnlyList<T> rows)
    {
        var path = dir.Path("data." + format);
        switch (format)
        {
            case "json":
                File.WriteAllText(path, JsonSerializer.Serialize(rows, Indented));
                break;
            case "jsonl":
                File.WriteAllText(path, string.Join("\n", rows.Select(r => JsonSerializer.Serialize(r))) + "\n");
                break;
            default:
                using (var stream = File.Create(path))
                    ParquetSerializer.SerializeAsync(rows, stream).GetAwaiter().GetResult();
                break;
        }
        return path;
    }

    [Theory]
    [InlineData("json")]
    [InlineData("jsonl")]
    [InlineData("parquet")]
    public void SciQOfficialLayout(string format)
    {
        using var dir = new ScratchDir();
        var path = WriteRows(
            dir,
            format,
            new[]
            {
                new SciQRow
                {
                    question = "What type of organism is commonly used in preparation of foods such as cheese and yogurt?",
                    distractor1 = "viruses",
                    distractor2 = "protozoa",
                    distractor3 = "gymnosperms",
                    correct_answer = "mesophilic organisms",
                    support = " \nMesophiles grow best in moderate temperature.",
                },
                new SciQRow
                {
                    question = "Q2?",
                    distractor1 = "a",
                    distractor2 = "b",
                    distractor3 = "c",
                    correct_answer = "d",
                    support = "",
                },
            }
        );

        var items = McqDatasets.Read("sciq", path);

        Assert.Equal(2, items.Count);
        // lm-eval: support.lstrip(), and an empty support still leaves the leading newline.
        Assert.Equal(
            "Mesophiles grow best in moderate temperature.\nQuestion: What type of organism is commonly used in preparation of foods such as cheese and yogurt?\nAnswer:",
            items[0].Prompt
        );
        Assert.Equal(["viruses", "protozoa", "gymnosperms", "mesophilic organisms"], items[0].Choices);
        Assert.Equal(3, items[0].Answer);
        Assert.Equal("\nQuestion: Q2?\nAnswer:", items[1].Prompt);
        Assert.Equal(" mesophilic organisms", McqDatasets.ToTrainingExamples(items)[0].Completion);
    }

    [Theory]
    [InlineData("json")]
    [InlineData("jsonl")]
    [InlineData("parquet")]
    public void PiqaWithLabelColumn(string format)
    {
        using var dir = new ScratchDir();
        var path = WriteRows(
            dir,
            format,
            new[]
            {
                new PiqaRow
                {
                    goal = "When boiling butter, when it's ready, you can",
                    sol1 = "Pour it onto a plate",
                    sol2 = "Pour it into a jar",
                    label = 1,
                },
                new PiqaRow
                {
                    goal = "g2",
                    sol1 = "s1",
                    sol2 = "s2",
                    label = 0,
                },
            }
        );

        var items = McqDatasets.Read("piqa", path);

        Assert.Equal("Question: When boiling butter, when it's ready, you can\nAnswer:", items[0].Prompt);
        Assert.Equal(["Pour it onto a plate", "Pour it into a jar"], items[0].Choices);
        Assert.Equal([1, 0], items.Select(i => i.Answer));
        Assert.Equal(items.Select(i => i.Prompt), McqDatasets.Read("mcq", path).Select(i => i.Prompt)); // mcq detects PIQA
    }

    [Fact]
    public void PiqaOfficialWithLabelsFileBeside()
    {
        using var dir = new ScratchDir();
        var path = dir.Write(
            "train.jsonl",
            "{\"id\": \"x1\", \"goal\": \"g1\", \"sol1\": \"a\", \"sol2\": \"b\"}\n{\"id\": \"x2\", \"goal\": \"g2\", \"sol1\": \"c\", \"sol2\": \"d\"}\n"
        );
        dir.Write("train-labels.lst", "1\n0\n");
        var other = dir.Write("other.lst", "0\n1\n");

        Assert.Equal([1, 0], McqDatasets.Read("piqa", path).Select(i => i.Answer));
        Assert.Equal([0, 1], McqDatasets.Read("piqa", path, other).Select(i => i.Answer)); // explicit file wins
        Assert.Equal("x2", McqDatasets.Read("piqa", path)[1].Id);
    }

    [Theory]
    [InlineData("json")]
    [InlineData("jsonl")]
    [InlineData("parquet")]
    public void MedMcqaOfficialLayout(string format)
    {
        using var dir = new ScratchDir();
        // cop 0 marks the HF release's 0-based numbering.
        var path = WriteRows(
            dir,
            format,
            new[]
            {
                new MedMcqaRow
                {
                    id = "e9ad821a",
                    question = "Which vitamin is supplied from only animal source:",
                    opa = "Vitamin C",
                    opb = "Vitamin B7",
                    opc = "Vitamin B12",
                    opd = "Vitamin D",
                    cop = 2,
                    subject_name = "Biochemistry",
                },
                new MedMcqaRow
                {
                    id = "x",
                    question = "q",
                    opa = "a",
                    opb = "b",
                    opc = "c",
                    opd = "d",
                    cop = 0,
                    exp = "because",
                },
            }
        );

        var items = McqDatasets.Read("medmcqa", path);

        Assert.Equal(
            "Question: Which vitamin is supplied from only animal source:\nChoices:\nA. Vitamin C\nB. Vitamin B7\nC. Vitamin B12\nD. Vitamin D\nAnswer:",
            items[0].Prompt
        );
        Assert.Equal(["A", "B", "C", "D"], items[0].Choices);
        Assert.Equal([2, 0], items.Select(i => i.Answer));
        Assert.Equal("e9ad821a", items[0].Id);
    }

    [Theory]
    [InlineData("1,4,2", new[] { 0, 3, 1 })] // original GitHub release: 1-based
    [InlineData("0,3,2", new[] { 0, 3, 2 })] // HF release: 0-based
    [InlineData("1,2,3", new[] { 1, 2, 3 })] // no 0 and no 4: read as HF's 0-based
    public void MedMcqaCopNumberingIsDetectedPerFile(string cops, int[] expected)
    {
        using var dir = new ScratchDir();
        var lines = cops.Split(',')
            .Select(c => $"{{\"question\": \"q\", \"opa\": \"a\", \"opb\": \"b\", \"opc\": \"c\", \"opd\": \"d\", \"cop\": {c}}}");
        var path = dir.Write("dev.json", string.Join("\n", lines)); // the official dev.json is JSON Lines
        Assert.Equal(expected, McqDatasets.Read("medmcqa", path).Select(i => i.Answer));
    }

    [Theory]
    [InlineData("json")]
    [InlineData("jsonl")]
    [InlineData("parquet")]
    public void GenericLayout(string format)
    {
        using var dir = new ScratchDir();
        var path = WriteRows(
            dir,
            format,
            new[]
            {
                new GenericRow
                {
                    question = "What is 2+2?",
                    choices = ["3", "4", "5"],
                    answer = 1,
                    context = "Arithmetic.",
                },
                new GenericRow
                {
                    question = "Capital of France?",
                    choices = ["A. Paris", "B. Rome"],
                    answer = 0,
                },
            }
        );

        var items = McqDatasets.Read("mcq", path);
        Assert.Equal("Arithmetic.\nQuestion: What is 2+2?\nAnswer:", items[0].Prompt);
        Assert.Equal(["3", "4", "5"], items[0].Choices);
        Assert.Equal(1, items[0].Answer);
        Assert.Equal("Question: Capital of France?\nAnswer:", items[1].Prompt);

        // Task medmcqa: MedMCQA's prompt; lettered choices are stripped, others listed as they are.
        var med = McqDatasets.Read("medmcqa", path);
        Assert.Equal("Arithmetic.\nQuestion: What is 2+2?\nChoices:\nA. 3\nB. 4\nC. 5\nAnswer:", med[0].Prompt);
        Assert.Equal(["A", "B", "C"], med[0].Choices);
        Assert.Equal("Question: Capital of France?\nChoices:\nA. Paris\nB. Rome\nAnswer:", med[1].Prompt);
        Assert.Equal(["A", "B"], med[1].Choices);
    }

    [Theory]
    [InlineData("1", 1)]
    [InlineData("\"C\"", 2)]
    [InlineData("\"blue\"", 0)]
    [InlineData("\"B\"", 1)] // letter B and the text "B" agree
    public void GenericAnswerAsIndexLetterOrText(string answer, int expected)
    {
        using var dir = new ScratchDir();
        var path = dir.Write("q.jsonl", $"{{\"question\": \"q\", \"choices\": [\"blue\", \"B\", \"green\"], \"answer\": {answer}}}\n");
        Assert.Equal(expected, McqDatasets.Read("mcq", path)[0].Answer);
    }
}
