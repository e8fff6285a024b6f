using System.Text;
using Alora.Data;

namespace Alora.Tests.Data;

/// <summary>
/// Text data must be UTF-8: an invalid byte is an error naming the file, the byte offset (0-based) and the line,
/// never a silent U+FFFD (which would change the text and its byte counts, such as bits per byte).
/// </summary>
public class Utf8DataTests
{
    static string Message(Action read) => Assert.Throws<AloraException>(read).Message;

    static string WriteBytes(ScratchDir dir, string name, params byte[][] parts)
    {
        var path = dir.Path(name);
        File.WriteAllBytes(path, parts.SelectMany(p => p).ToArray());
        return path;
    }

    static byte[] U(string s) => Encoding.UTF8.GetBytes(s);

    [Fact]
    public void PlainTextNamesOffsetAndLine()
    {
        using var dir = new ScratchDir();
        var path = WriteBytes(dir, "a.txt", U("abc\ndéf"), [0xFF], U("ghi\n"));
        // "abc\n" is 4 bytes, "déf" 4 more: the 0xFF is byte 8, on line 2.
        Assert.Equal(
            $"{path}: not valid UTF-8 at byte offset 8 (line 2; bytes FF 67 68 69); save the file as UTF-8",
            Message(() => TextCorpus.Read(path))
        );

        // A sequence cut short by the end of the file; an overlong encoding of '/'; an encoded surrogate (ED A0 80).
        path = WriteBytes(dir, "b.txt", U("x €"), [0xE2, 0x82]);
        Assert.Equal($"{path}: not valid UTF-8 at byte offset 5 (line 1; bytes E2 82); save the file as UTF-8", Message(() => TextCorpus.Read(path)));
        path = WriteBytes(dir, "c.txt", U("x\n\ny"), [0xC0, 0xAF]);
        Assert.StartsWith($"{path}: not valid UTF-8 at byte offset 4 (line 3;", Message(() => TextCorpus.Read(path)), StringComparison.Ordinal);
        path = WriteBytes(dir, "d.txt", U("x"), [0xED, 0xA0, 0x80]);
        Assert.StartsWith($"{path}: not valid UTF-8 at byte offset 1 (line 1;", Message(() => TextCorpus.Read(path)), StringComparison.Ordinal);
    }

    [Fact]
    public void JsonLinesNamesOffsetAndLineEvenFarIntoTheFile()
    {
        using var dir = new ScratchDir();
        var path = WriteBytes(dir, "a.jsonl", U("{\"text\": \"one\"}\n{\"text\": \"t"), [0x80], U("o\"}\n"));
        Assert.StartsWith($"{path}: not valid UTF-8 at byte offset 27 (line 2;", Message(() => TextCorpus.Read(path)), StringComparison.Ordinal);

        // 5000 lines of 20 bytes, each with a 3-byte character, so that block boundaries fall inside characters:
        // the bad byte sits at 100,000 on line 5001, far past the reader's first block.
        var line = U("{\"text\": \"a€cde\"}\n");
        Assert.Equal(20, line.Length);
        var good = Enumerable.Repeat(line, 5000).SelectMany(l => l).ToArray();
        path = WriteBytes(dir, "b.jsonl", good, U("{\"text\": \""), [0xF8], U("\"}\n"));
        Assert.StartsWith(
            $"{path}: not valid UTF-8 at byte offset 100010 (line 5001; bytes F8 22 7D 0A)",
            Message(() => TextCorpus.Read(path)),
            StringComparison.Ordinal
        );
        Assert.StartsWith($"{path}: not valid UTF-8 at byte offset 100010", Message(() => QaCorpus.Read(path)), StringComparison.Ordinal);
    }

    [Fact]
    public void JsonArraysAndLabelsFiles()
    {
        using var dir = new ScratchDir();
        // Before: the array parsed and reading the string threw InvalidOperationException.
        var path = WriteBytes(dir, "a.json", U("[{\"question\": \"q\", \"choices\": [\"x\", \"y"), [0xFE], U("\"], \"answer\": 0}]"));
        Assert.StartsWith(
            $"{path}: not valid UTF-8 at byte offset 38 (line 1;",
            Message(() => McqDatasets.Read("mcq", path)),
            StringComparison.Ordinal
        );

        var items = WriteBytes(dir, "dev.jsonl", U("{\"goal\": \"g\", \"sol1\": \"a\", \"sol2\": \"b\"}\n"));
        var labels = WriteBytes(dir, "labels.lst", U("1"), [0xB1], U("\n"));
        Assert.StartsWith(
            $"{labels}: not valid UTF-8 at byte offset 1 (line 1;",
            Message(() => McqDatasets.Read("piqa", items, labels)),
            StringComparison.Ordinal
        );
    }

    [Fact]
    public void Utf8ByteOrderMarkIsAcceptedAndUtf16IsNamed()
    {
        using var dir = new ScratchDir();
        byte[] bom = [0xEF, 0xBB, 0xBF];
        Assert.Equal("héllo", TextCorpus.Read(WriteBytes(dir, "a.txt", bom, U("héllo\n")))[0].Text);
        Assert.Equal("héllo", TextCorpus.Read(WriteBytes(dir, "a.jsonl", bom, U("{\"text\": \"héllo\"}\n")))[0].Text);
        Assert.Equal("héllo", TextCorpus.Read(WriteBytes(dir, "a.json", bom, U("[{\"text\": \"héllo\"}]")))[0].Text);
        var items = WriteBytes(dir, "dev.jsonl", U("{\"goal\": \"g\", \"sol1\": \"a\", \"sol2\": \"b\"}\n"));
        Assert.Equal(1, McqDatasets.Read("piqa", items, WriteBytes(dir, "l.lst", bom, U("1\r\n")))[0].Answer);

        var path = WriteBytes(dir, "u16.txt", [0xFF, 0xFE], Encoding.Unicode.GetBytes("hi"));
        Assert.Equal(
            $"{path}: is UTF-16 or UTF-32 text (byte order mark FF FE at byte offset 0); save it as UTF-8",
            Message(() => TextCorpus.Read(path))
        );
        path = WriteBytes(dir, "u16.json", [0xFE, 0xFF], Encoding.BigEndianUnicode.GetBytes("[]"));
        Assert.StartsWith($"{path}: is UTF-16 or UTF-32 text", Message(() => QaCorpus.Read(path)), StringComparison.Ordinal);
    }

    [Fact]
    public void UnpairedSurrogateEscapesAreInputErrors()
    {
        using var dir = new ScratchDir();
        // Valid UTF-8 bytes, but the escape names half a character: no text to tokenize. Before: InvalidOperationException.
        var path = dir.Write("a.jsonl", "{\"text\": \"ok\"}\n{\"text\": \"a\\ud800b\"}\n");
        Assert.StartsWith(
            $"{path} line 2: field 'text' holds an escape that is not valid Unicode",
            Message(() => TextCorpus.Read(path)),
            StringComparison.Ordinal
        );
        path = dir.Write("b.jsonl", "{\"question\": \"q\", \"choices\": [\"x\", \"\\udfff\"], \"answer\": 0}\n");
        Assert.StartsWith(
            $"{path} line 1: field 'choices' element 1 holds an escape",
            Message(() => McqDatasets.Read("mcq", path)),
            StringComparison.Ordinal
        );
        path = dir.Write("c.json", "[{\"\\ud801\": [{\"a\": 1}]}]");
        Assert.StartsWith($"{path} item 1: a field name holds an escape", Message(() => QaCorpus.Read(path)), StringComparison.Ordinal);
    }

    [Fact]
    public void FieldsGivenTwiceAreRefused()
    {
        using var dir = new ScratchDir();
        // Which of two values a JSON reader keeps differs between readers: before, the last one won silently.
        var path = dir.Write("a.jsonl", "{\"question\": \"q\", \"choices\": [\"x\", \"y\"], \"answer\": 0, \"answer\": 1}\n");
        Assert.Equal($"{path} line 1: field 'answer' is given twice", Message(() => McqDatasets.Read("mcq", path)));
        path = dir.Write("b.json", "[{\"prompt\": \"p\", \"completion\": \"c\"}, {\"prompt\": \"p\", \"prompt\": \"q\", \"completion\": \"c\"}]");
        Assert.Equal($"{path} item 2: field 'prompt' is given twice", Message(() => QaCorpus.Read(path)));
    }
}
