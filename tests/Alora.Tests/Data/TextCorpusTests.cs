using Alora.Data;
using Parquet.Serialization;

namespace Alora.Tests.Data;

public sealed class TextRow
{
    public string text { get; set; } = "";
    public string meta { get; set; } = "";
}

public sealed class QaRow
{
    public string prompt { get; set; } = "";
}

public class TextCorpusTests
{
    // The fixture has no blank lines: 2891 lines, each a heading or a paragraph (64 article titles " = X = ",
    // 644 section headings); counted with `wc -l`, `grep -c '[^[:space:]]'` and `awk 'BEGIN{RS=""}'` (1 block).
    [DataFixtureFact("text/wikitext2/wiki.test.raw")]
    public void WikiTextParagraphs()
    {
        var path = DataFixtures.Path("text/wikitext2/wiki.test.raw");
        var docs = TextCorpus.Read(path);

        Assert.Equal(2891, docs.Count);
        Assert.Equal("= Robert Boulter =", docs[0].Text);
        Assert.StartsWith("Robert Boulter is an English film , television and theatre actor .", docs[1].Text, StringComparison.Ordinal);
        Assert.All(docs, d => Assert.Null(d.InputIds));
        Assert.Equal(64, docs.Count(d => d.Text!.StartsWith("= ", StringComparison.Ordinal) && !d.Text.StartsWith("= =", StringComparison.Ordinal)));
        // 241,211 whitespace-separated words (README): trimming and splitting lose none.
        Assert.Equal(241_211, docs.Sum(d => d.Text!.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length));
        Assert.Single(TextCorpus.Read(path, TextSplit.Paragraphs)); // no blank line: one block
        Assert.Equal(2891, TextCorpus.Read(path, TextSplit.Lines).Count);
    }

    [DataFixtureFact("text/ptb/ptb.test.txt", "text/ptb/ptb.valid.txt")]
    public void PennTreebankOneSentencePerLine()
    {
        var test = TextCorpus.Read(DataFixtures.Path("text/ptb/ptb.test.txt"));
        var valid = TextCorpus.Read(DataFixtures.Path("text/ptb/ptb.valid.txt"));

        Assert.Equal(3761, test.Count); // wc -l
        Assert.Equal(3370, valid.Count);
        Assert.Equal("no it was n't black monday", test[0].Text);
    }

    [Fact]
    public void PlainTextSplitting()
    {
        const string text = "\n\nFirst para line 1\n  indented line 2  \n \n\n Second para \r\n\r\nThird\n\n";
        Assert.Equal(["First para line 1\n  indented line 2", "Second para", "Third"], TextCorpus.SplitText(text).Select(d => d.Text));
        Assert.Equal(["a", "b", "c"], TextCorpus.SplitText("a\n b \nc\n\n").Select(d => d.Text)); // trailing blank lines keep Lines
        Assert.Equal(["a\nb\n\nc"], TextCorpus.SplitText(" a\nb\n\nc\n", TextSplit.Whole).Select(d => d.Text));
        Assert.Equal(["a", "b", "c"], TextCorpus.SplitText("a\nb\n\nc", TextSplit.Lines).Select(d => d.Text));
        Assert.Equal(["a\nb", "c"], TextCorpus.SplitText("a\nb\n\nc", TextSplit.Paragraphs).Select(d => d.Text));
    }

    [Fact]
    public void JsonLinesWithTextOrInputIds()
    {
        using var dir = new ScratchDir();
        var ids = TextCorpus.Read(dir.Write("ids.jsonl", "{\"input_ids\": [1, 15043, 3186]}\n{\"input_ids\": [2], \"text\": \"ignored\"}\n"));
        Assert.Equal([1, 15043, 3186], ids[0].InputIds!);
        Assert.Equal([2], ids[1].InputIds!);
        Assert.All(ids, d => Assert.Null(d.Text));

        var text = TextCorpus.Read(
            dir.Write("pile.jsonl", "{\"text\": \"Line one.\\nLine two.\", \"meta\": {\"pile_set_name\": \"Pile-CC\"}}\n{\"text\": \"\"}\n")
        );
        Assert.Equal(["Line one.\nLine two.", ""], text.Select(d => d.Text)); // JSON text is kept exactly
        Assert.Equal([5, 6], TextCorpus.Read(dir.Write("one.jsonl", "{\"input_ids\": [5, 6]}")).Single().InputIds!); // not mistaken for a wrapper
        Assert.Equal(["x"], TextCorpus.Read(dir.Write("arr.json", "[{\"text\": \"x\"}]")).Select(d => d.Text));
    }

    [Fact]
    public async Task ParquetTextColumn()
    {
        using var dir = new ScratchDir();
        var path = dir.Path("train.parquet");
        await using (var stream = File.Create(path))
            await ParquetSerializer.SerializeAsync(
                new[]
                {
                    new TextRow { text = "alpha beta", meta = "m" },
                    new TextRow { text = " gamma\n" },
                },
                stream
            );

        Assert.Equal(["alpha beta", " gamma\n"], TextCorpus.Read(path).Select(d => d.Text));

        var noText = dir.Path("ids.parquet");
        await using (var stream = File.Create(noText))
            await ParquetSerializer.SerializeAsync(new[] { new QaRow { prompt = "p" } }, stream);
        Assert.Equal($"{noText} row 1: field 'text' is missing", Assert.Throws<AloraException>(() => TextCorpus.Read(noText)).Message);

        var garbage = dir.Write("garbage.parquet", "PAR1 but not really");
        Assert.StartsWith(
            $"{garbage}: not a readable Parquet file",
            Assert.Throws<AloraException>(() => TextCorpus.Read(garbage)).Message,
            StringComparison.Ordinal
        );
    }

    [Fact]
    public void QuestionAnswerJsonLines()
    {
        using var dir = new ScratchDir();
        var path = dir.Write("qa.jsonl", "{\"prompt\": \"Question: 2+2?\\nAnswer:\", \"completion\": \" 4\"}\n");
        var qa = Assert.Single(QaCorpus.Read(path));
        Assert.Equal(new QaExample("Question: 2+2?\nAnswer:", " 4"), qa);

        path = dir.Write("bad.jsonl", "{\"prompt\": \"p\", \"completion\": \" c\"}\n{\"prompt\": \"p\"}\n");
        Assert.Equal($"{path} line 2: field 'completion' is missing", Assert.Throws<AloraException>(() => QaCorpus.Read(path)).Message);
    }
}
