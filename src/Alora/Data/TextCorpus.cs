using System.Text;
using Alora.IO;
using Parquet;

namespace Alora.Data;

/// <summary>One document of a general corpus: either text to tokenize or ids already tokenized (exactly one is set).</summary>
public sealed record CorpusDocument(string? Text, int[]? InputIds);

/// <summary>How a plain-text file is cut into documents.</summary>
public enum TextSplit
{
    /// <summary>Paragraphs when the file has a blank line between two text lines, else one document per line.</summary>
    Auto,

    /// <summary>One document per non-empty line.</summary>
    Lines,

    /// <summary>Blocks separated by blank (empty or whitespace-only) lines; newlines inside a block are kept.</summary>
    Paragraphs,

    /// <summary>The whole file is one document.</summary>
    Whole,
}

/// <summary>Reads general text corpora: plain text, JSON Lines / JSON with <c>text</c> or <c>input_ids</c>, Parquet with <c>text</c>.</summary>
public static class TextCorpus
{
    /// <summary>
    /// Reads a corpus. <c>.jsonl</c>/<c>.json</c>/<c>.parquet</c> are structured (the split is ignored for them);
    /// anything else is plain UTF-8 text cut by <paramref name="split"/>, each document trimmed of surrounding
    /// whitespace and empty ones dropped. Throws <see cref="AloraException"/> for a missing, malformed or empty file.
    /// </summary>
    public static IReadOnlyList<CorpusDocument> Read(string path, TextSplit split = TextSplit.Auto)
    {
        DataFiles.CheckExists(path);
        var ext = Path.GetExtension(path).ToLowerInvariant();
        var docs = ext switch
        {
            ".jsonl" or ".ndjson" or ".json" => FromRecords(DataFiles.ReadRecords(path)),
            ".parquet" => ReadParquet(path),
            _ => SplitText(Utf8Text.ReadFile(path), split),
        };
        if (docs.Count == 0)
            throw new AloraException($"{path}: contains no documents");
        if (docs.All(d => d.Text is { Length: 0 } || d.InputIds is { Length: 0 }))
            throw new AloraException($"{path}: contains only empty documents");
        return docs;
    }

    /// <summary>Cuts plain text into documents (exposed for tests and for text that does not come from a file).</summary>
    public static IReadOnlyList<CorpusDocument> SplitText(string text, TextSplit split = TextSplit.Auto)
    {
        // Windows line endings would otherwise leave '\r' inside paragraphs and change token counts.
        var lines = text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        if (split == TextSplit.Auto)
            split = HasSeparatingBlankLine(lines) ? TextSplit.Paragraphs : TextSplit.Lines;

        var docs = new List<CorpusDocument>();
        switch (split)
        {
            case TextSplit.Whole:
                Add(docs, text.Replace("\r\n", "\n", StringComparison.Ordinal));
                break;
            case TextSplit.Lines:
                foreach (var line in lines)
                    Add(docs, line);
                break;
            default:
                var block = new StringBuilder();
                foreach (var line in lines)
                {
                    if (string.IsNullOrWhiteSpace(line))
                    {
                        Add(docs, block.ToString());
                        block.Clear();
                    }
                    else
                    {
                        block.Append(block.Length > 0 ? "\n" : "").Append(line);
                    }
                }
                Add(docs, block.ToString());
                break;
        }
        return docs;
    }

    private static void Add(List<CorpusDocument> docs, string text)
    {
        var trimmed = text.Trim();
        if (trimmed.Length > 0)
            docs.Add(new CorpusDocument(trimmed, null));
    }

    /// <summary>
    /// True when a blank line lies between two text lines: blank lines only at the start or end of the file
    /// (a trailing newline, say) do not make a file of sentences into one paragraph.
    /// </summary>
    private static bool HasSeparatingBlankLine(string[] lines)
    {
        bool seenText = false,
            blankAfterText = false;
        foreach (var line in lines)
        {
            if (string.IsNullOrWhiteSpace(line))
            {
                blankAfterText |= seenText;
            }
            else
            {
                if (blankAfterText)
                    return true;
                seenText = true;
            }
        }
        return false;
    }

    /// <summary>
    /// JSON records: the first record decides the kind ('input_ids' when present, since pre-tokenized ids are exact,
    /// else 'text'), and every record must then have that field.
    /// </summary>
    private static List<CorpusDocument> FromRecords(List<DataRecord> records)
    {
        var docs = new List<CorpusDocument>(records.Count);
        if (records.Count == 0)
            return docs;
        var field = records[0].Has("input_ids") ? "input_ids" : "text";
        foreach (var record in records)
        {
            if (!record.Has(field))
            {
                var other = field == "text" ? "input_ids" : "text";
                throw record.Error(
                    record.Has(other)
                        ? $"field '{field}' is missing (it has '{other}', but {records[0].Location} uses '{field}' and all records must use the same field)"
                        : $"field '{field}' is missing"
                );
            }
            docs.Add(field == "text" ? new CorpusDocument(record.String("text"), null) : new CorpusDocument(null, record.IntArray("input_ids")));
        }
        return docs;
    }

    /// <summary>Reads only the 'text' column, row group by row group (Pile-style files carry large metadata columns).</summary>
    private static List<CorpusDocument> ReadParquet(string path) =>
        DataFiles.ReadParquetWith(path, () => ReadParquetText(path).GetAwaiter().GetResult()) ?? FromRecords(DataFiles.ReadRecords(path)); // no 'text' column: input_ids, or a precise error per row

    private static async Task<List<CorpusDocument>?> ReadParquetText(string path)
    {
        await using var reader = await ParquetReader.CreateAsync(path).ConfigureAwait(false);
        var field = reader.Schema.DataFields.FirstOrDefault(f => f.Path.Length == 1 && f.Path.FirstPart == "text");
        if (field == null)
            return null;
        if (field.ClrType != typeof(string) && field.ClrType != typeof(ReadOnlyMemory<char>))
            throw new AloraException($"{path}: column 'text' must hold strings, found {field.ClrType.Name}");
        var docs = new List<CorpusDocument>();
        for (var g = 0; g < reader.RowGroupCount; g++)
        {
            using var group = reader.OpenRowGroupReader(g);
            var values = new string?[group.RowCount];
            await group.ReadAsync(field, values.AsMemory()).ConfigureAwait(false);
            foreach (var value in values)
            {
                if (value == null)
                    throw new AloraException($"{path} row {docs.Count + 1}: field 'text' is null");
                docs.Add(new CorpusDocument(value, null));
            }
        }
        return docs;
    }
}
