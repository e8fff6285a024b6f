using System.Globalization;
using System.Text;
using CsCheck;

namespace Alora.Tests.Properties;

/// <summary>One JSON object of a data file, as fields of JSON text in file order.</summary>
internal sealed record Rec(List<(string Key, string Json)> Fields)
{
    public Rec Without(string key) => new(Fields.Where(f => f.Key != key).ToList());

    public Rec With(string key, string json) =>
        new(Fields.Any(f => f.Key == key) ? Fields.Select(f => f.Key == key ? (key, json) : f).ToList() : [.. Fields, (key, json)]);

    public Rec Twice(string key) => new([.. Fields, Fields.First(f => f.Key == key)]);

    public override string ToString() => "{" + string.Join(", ", Fields.Select(f => $"\"{f.Key}\": {f.Json}")) + "}";
}

/// <summary>How records are laid out in a file: JSON Lines (line ending, blank lines, final newline) or a JSON array, with or without a byte order mark.</summary>
internal sealed record Layout(bool Array, bool Crlf, bool BlankLines, bool FinalNewline, bool Bom)
{
    public static readonly Gen<Layout> Any = Gen.Select(Gen.Int[0, 3], Gen.Bool, Gen.Bool, Gen.Bool, Gen.Int[0, 4], (a, crlf, blank, final, bom) =>
        new Layout(a == 0, crlf, blank, final, bom == 0)
    );

    public string Extension => Array ? ".json" : ".jsonl";

    /// <summary>The file's bytes, and for each record the line it starts on (1-based) and the byte offset of its text.</summary>
    public (byte[] Bytes, int[] Lines, int[] Offsets) Write(IReadOnlyList<Rec> records)
    {
        var nl = Crlf ? "\r\n" : "\n";
        var sb = new StringBuilder(Array ? "[" + nl : "");
        var (lines, offsets) = (new int[records.Count], new int[records.Count]);
        var line = Array ? 2 : 1;
        for (var i = 0; i < records.Count; i++)
        {
            if (BlankLines && !Array)
            {
                sb.Append("  ").Append(nl);
                line++;
            }
            lines[i] = line;
            offsets[i] = (Bom ? 3 : 0) + Encoding.UTF8.GetByteCount(sb.ToString());
            sb.Append(records[i]);
            if (Array && i < records.Count - 1)
                sb.Append(',');
            if (Array || i < records.Count - 1 || FinalNewline)
                sb.Append(nl);
            line++;
        }
        if (Array)
            sb.Append(']');
        var text = Encoding.UTF8.GetBytes(sb.ToString());
        return (Bom ? [0xEF, 0xBB, 0xBF, .. text] : text, lines, offsets);
    }

    /// <summary>"line N" for JSON Lines, "item N" for an array: how errors place a record.</summary>
    public string Where(int record, int[] lines) =>
        Array
            ? string.Create(CultureInfo.InvariantCulture, $"item {record + 1}")
            : string.Create(CultureInfo.InvariantCulture, $"line {lines[record]}");
}

/// <summary>Generators shared by the data properties.</summary>
internal static class DataCases
{
    /// <summary>A string and a JSON spelling of it (some characters written as \u escapes).</summary>
    public static readonly Gen<(string Text, string Json)> Text =
        from s in PropertyRun.Text
        from escape in Gen.Bool.Array[s.Length]
        select (s, PropertyRun.JsonString(s, escape));

    /// <summary>Values of the wrong kind for a string field (null reads as missing).</summary>
    public static readonly string[] NotStrings = ["1", "-2.5", "true", "null", "[\"a\"]", "{\"a\": \"b\"}", "[]"];

    /// <summary>Fields no reader looks at, with any JSON value.</summary>
    public static readonly Gen<(string, string)[]> Extras = Gen.Select(
            Gen.OneOf("meta", "source", "x_note", "pile_set_name"),
            Gen.OneOf("null", "3", "\"text\"", "{\"a\": [1, {\"b\": null}]}", "[\"\\ud83d\\ude00\"]", "1e400")
        )
        .Array[0, 2]
        .Select(a => a.DistinctBy(x => x.Item1).ToArray());

    /// <summary>
    /// The bytes with an invalid UTF-8 sequence put at a character boundary inside record <paramref name="record"/>'s
    /// text (after its opening brace and first quote), and the byte offset and line an error must name.
    /// </summary>
    public static (byte[] Bytes, long Offset, int Line) Corrupt(byte[] bytes, int recordOffset, byte[] bad)
    {
        // Record texts start with {"key": so offset + 2 is inside the first key, an ASCII character boundary.
        var at = recordOffset + 2;
        var line = bytes.AsSpan(0, at).Count((byte)'\n') + 1;
        return ([.. bytes[..at], .. bad, .. bytes[at..]], at, line);
    }
}
