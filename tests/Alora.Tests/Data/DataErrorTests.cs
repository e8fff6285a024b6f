using Alora.Data;

namespace Alora.Tests.Data;

/// <summary>User mistakes give one AloraException that names the file, the place and the field.</summary>
public class DataErrorTests
{
    private static string Message(Action read) => Assert.Throws<AloraException>(read).Message;

    [Fact]
    public void MissingFieldNamesFileLineAndField()
    {
        using var dir = new ScratchDir();
        var path = dir.Write(
            "dev.jsonl",
            "{\"goal\": \"g\", \"sol1\": \"a\", \"sol2\": \"b\", \"label\": 0}\n\n{\"goal\": \"g\", \"sol1\": \"a\", \"label\": 1}\n"
        );
        Assert.Equal($"{path} line 3: field 'sol2' is missing", Message(() => McqDatasets.Read("piqa", path)));
    }

    [Fact]
    public void WrongTypesAndValuesAreNamed()
    {
        using var dir = new ScratchDir();
        var path = dir.Write("a.jsonl", "{\"question\": \"q\", \"choices\": [\"x\", \"y\"], \"answer\": 2}\n");
        Assert.Equal(
            $"{path} line 1: field 'answer' must be an index 0-1, a letter A-B or the text of a choice, got a number (2)",
            Message(() => McqDatasets.Read("mcq", path))
        );

        path = dir.Write("b.jsonl", "{\"question\": 7, \"choices\": [\"x\", \"y\"], \"answer\": 0}\n");
        Assert.Equal($"{path} line 1: field 'question' must be a string, got a number (7)", Message(() => McqDatasets.Read("mcq", path)));

        path = dir.Write("c.json", "[{\"goal\": \"g\", \"sol1\": \"a\", \"sol2\": \"b\", \"label\": -1}]");
        Assert.StartsWith(
            $"{path} item 1: field 'label' must be 0 or 1, got -1",
            Message(() => McqDatasets.Read("piqa", path)),
            StringComparison.Ordinal
        );

        path = dir.Write("d.jsonl", "{\"question\": \"q\", \"choices\": [\"B\", \"A\"], \"answer\": \"A\"}\n");
        Assert.Contains("ambiguous", Message(() => McqDatasets.Read("mcq", path)), StringComparison.Ordinal);

        path = dir.Write(
            "e.jsonl",
            "{\"question\": \"q\", \"opa\": \"a\", \"opb\": \"b\", \"opc\": \"c\", \"opd\": \"d\", \"cop\": 0}\n"
                + "{\"question\": \"q\", \"opa\": \"a\", \"opb\": \"b\", \"opc\": \"c\", \"opd\": \"d\", \"cop\": 4}\n"
        );
        Assert.StartsWith($"{path}: field 'cop' holds both 0 and 4", Message(() => McqDatasets.Read("medmcqa", path)), StringComparison.Ordinal);
    }

    [Fact]
    public void MalformedJsonLineIsNamed()
    {
        using var dir = new ScratchDir();
        var path = dir.Write(
            "bad.jsonl",
            "{\"question\": \"q\", \"choices\": [\"x\", \"y\"], \"answer\": 0}\n{\"question\": \"q\", \"choices\": [\"x\"\n"
        );
        Assert.StartsWith($"{path} line 2: malformed JSON", Message(() => McqDatasets.Read("mcq", path)), StringComparison.Ordinal);

        path = dir.Write("bad.json", "[{\"question\": \"q\",\n \"choices\": }]");
        Assert.Equal($"{path}: malformed JSON at line 2", Message(() => McqDatasets.Read("mcq", path)));

        path = dir.Write("text.jsonl", "{\"text\": \"fine\"}\nnot json\n");
        Assert.StartsWith($"{path} line 2: malformed JSON", Message(() => TextCorpus.Read(path)), StringComparison.Ordinal);

        path = dir.Write("arr.jsonl", "[1, 2]\n");
        Assert.Equal($"{path} line 1: expected a JSON object, got an array", Message(() => QaCorpus.Read(path)));
    }

    [Fact]
    public void EmptyFilesAreErrors()
    {
        using var dir = new ScratchDir();
        var empty = dir.Write("empty.jsonl", "");
        var blank = dir.Write("blank.jsonl", "\n  \n");
        var emptyText = dir.Write("empty.txt", " \n\n  \n");
        var emptyArray = dir.Write("empty.json", "[]");

        Assert.Equal($"{empty}: file is empty", Message(() => McqDatasets.Read("piqa", empty)));
        Assert.Equal($"{blank}: contains no items", Message(() => McqDatasets.Read("mcq", blank)));
        Assert.Equal($"{emptyArray}: contains no items", Message(() => McqDatasets.Read("sciq", emptyArray)));
        Assert.Equal($"{emptyText}: contains no documents", Message(() => TextCorpus.Read(emptyText)));
        Assert.Equal($"{blank}: contains no documents", Message(() => TextCorpus.Read(blank)));
        Assert.Equal($"{blank}: contains no examples", Message(() => QaCorpus.Read(blank)));
    }

    [Fact]
    public void LabelsFileProblems()
    {
        using var dir = new ScratchDir();
        var path = dir.Write(
            "dev.jsonl",
            "{\"goal\": \"g1\", \"sol1\": \"a\", \"sol2\": \"b\"}\n{\"goal\": \"g2\", \"sol1\": \"c\", \"sol2\": \"d\"}\n"
        );

        Assert.StartsWith(
            $"{path} line 1: field 'label' is missing and there is no labels file {dir.Path("dev-labels.lst")}",
            Message(() => McqDatasets.Read("piqa", path)),
            StringComparison.Ordinal
        );

        var three = dir.Write("three.lst", "0\n1\n1\n");
        Assert.Equal($"{three}: has 3 labels but {path} has 2 items", Message(() => McqDatasets.Read("piqa", path, three)));

        var bad = dir.Write("bad.lst", "0\n2\n");
        Assert.Equal($"{bad} line 2: expected 0 or 1, got '2'", Message(() => McqDatasets.Read("piqa", path, bad)));

        var missing = dir.Path("nope.lst");
        Assert.Equal($"{missing}: file not found", Message(() => McqDatasets.Read("piqa", path, missing)));
    }

    [Fact]
    public void MissingFileUnknownTaskAndWrongLayout()
    {
        using var dir = new ScratchDir();
        var missing = dir.Path("absent.jsonl");
        Assert.Equal($"{missing}: file not found", Message(() => McqDatasets.Read("sciq", missing)));
        Assert.Equal($"{missing}: file not found", Message(() => TextCorpus.Read(missing)));
        Assert.Equal($"{missing}: file not found", Message(() => QaCorpus.Read(missing)));
        Assert.Equal($"{dir.Root}: is a folder, expected a file", Message(() => TextCorpus.Read(dir.Root)));
        Assert.StartsWith("unknown multiple-choice task 'arc'", Message(() => McqDatasets.Read("arc", missing)), StringComparison.Ordinal);

        var piqa = dir.Write("p.jsonl", "{\"goal\": \"g\", \"sol1\": \"a\", \"sol2\": \"b\", \"label\": 0}\n");
        Assert.StartsWith($"{piqa}: task 'sciq' expects the SciQ", Message(() => McqDatasets.Read("sciq", piqa)), StringComparison.Ordinal);

        var wrapped = dir.Write("w.json", "{\"data\": [{\"question\": \"q\"}]}");
        Assert.StartsWith(
            $"{wrapped}: holds one object wrapping the list in 'data'",
            Message(() => McqDatasets.Read("mcq", wrapped)),
            StringComparison.Ordinal
        );

        var notParquet = dir.Write("x.parquet", "this is not parquet");
        Assert.StartsWith($"{notParquet}: not a readable Parquet file", Message(() => McqDatasets.Read("mcq", notParquet)), StringComparison.Ordinal);
    }

    [Fact]
    public void TextJsonLinesMustUseOneField()
    {
        using var dir = new ScratchDir();
        var path = dir.Write("mixed.jsonl", "{\"text\": \"a\"}\n{\"input_ids\": [1, 2]}\n");
        Assert.StartsWith(
            $"{path} line 2: field 'text' is missing (it has 'input_ids'",
            Message(() => TextCorpus.Read(path)),
            StringComparison.Ordinal
        );

        path = dir.Write("ids.jsonl", "{\"input_ids\": [1, 2]}\n{\"input_ids\": [3, -4]}\n");
        Assert.Equal(
            $"{path} line 2: field 'input_ids' element 1 must be a non-negative integer, got a number (-4)",
            Message(() => TextCorpus.Read(path))
        );
    }
}
