using System.Buffers;
using System.Collections;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Alora.IO;
using Parquet;
using Parquet.Serialization;

namespace Alora.Data;

/// <summary>The structured layouts a data file can have.</summary>
internal enum RecordFormat
{
    JsonLines,
    JsonArray,
    Parquet,
}

/// <summary>
/// Reads JSON Lines, JSON arrays and Parquet files into <see cref="DataRecord"/>s, turning every
/// input problem into an <see cref="AloraException"/> that names the file and the place.
/// </summary>
internal static class DataFiles
{
    private static readonly byte[] ParquetMagic = "PAR1"u8.ToArray();

    /// <summary>Throws a clear error when the path is not an existing file.</summary>
    public static void CheckExists(string path)
    {
        if (Directory.Exists(path))
            throw new AloraException($"{path}: is a folder, expected a file");
        if (!File.Exists(path))
            throw new AloraException($"{path}: file not found");
    }

    /// <summary>
    /// The format by extension; other extensions are sniffed from the content (Parquet magic,
    /// '[' for an array, '{' for JSON Lines). Returns null when the content fits none of them.
    /// </summary>
    public static RecordFormat? DetectFormat(string path)
    {
        var ext = Path.GetExtension(path).ToLowerInvariant();
        if (ext is ".jsonl" or ".ndjson")
            return RecordFormat.JsonLines;
        if (ext == ".parquet")
            return RecordFormat.Parquet;

        var head = new byte[4096];
        int n;
        using (var stream = File.OpenRead(path))
            n = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        if (n >= 4 && head.AsSpan(0, 4).SequenceEqual(ParquetMagic))
            return RecordFormat.Parquet;
        // MedMCQA's official dev.json is JSON Lines despite its extension, so '.json' is decided by content too.
        var bom = Utf8Text.BomLength(path, head.AsSpan(0, n));
        var text = Encoding.UTF8.GetString(head, bom, n - bom).TrimStart(' ', '\t', '\r', '\n');
        if (text.StartsWith('['))
            return RecordFormat.JsonArray;
        if (text.StartsWith('{'))
            return RecordFormat.JsonLines;
        return null;
    }

    /// <summary>All records of a JSON, JSON Lines or Parquet file (any other content is an error).</summary>
    public static List<DataRecord> ReadRecords(string path)
    {
        CheckExists(path);
        if (FileSize.Of(path) == 0)
            throw new AloraException($"{path}: file is empty");
        var format = DetectFormat(path)
            ?? throw new AloraException($"{path}: unrecognised format; expected JSON Lines (.jsonl), a JSON array (.json) or Parquet (.parquet)");
        return format switch
        {
            RecordFormat.JsonLines => ReadJsonLines(path),
            RecordFormat.JsonArray => ReadJsonArray(path),
            _ => ReadParquet(path),
        };
    }

    private static List<DataRecord> ReadJsonLines(string path)
    {
        var records = new List<DataRecord>();
        using var reader = Utf8Text.OpenReader(path);
        var lineNumber = 0;
        while (ReadLine(path, reader) is { } line)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line))
                continue; // a trailing newline or blank separator line is not a record
            var location = string.Create(CultureInfo.InvariantCulture, $"line {lineNumber}");
            JsonElement element;
            try
            {
                using var doc = JsonDocument.Parse(line);
                element = doc.RootElement.Clone();
            }
            catch (JsonException ex)
            {
                var hint =
                    lineNumber == 1 && line.TrimStart().StartsWith('{')
                        ? " (a JSON file must hold one object per line, or a top-level array of objects)"
                        : "";
                throw new AloraException(
                    string.Create(
                        CultureInfo.InvariantCulture,
                        $"{path} {location}: malformed JSON at byte {(ex.BytePositionInLine ?? 0) + 1}{hint}"
                    ),
                    ex
                );
            }
            records.Add(MakeRecord(path, location, element));
        }
        RejectWrapper(path, records);
        return records;
    }

    private static string? ReadLine(string path, StreamReader reader)
    {
        try
        {
            return reader.ReadLine();
        }
        catch (DecoderFallbackException ex)
        {
            throw Utf8Text.InvalidFile(path, ex);
        }
    }

    private static List<DataRecord> ReadJsonArray(string path)
    {
        var bytes = Utf8Text.ReadBytes(path);
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(bytes);
        }
        catch (JsonException ex)
        {
            throw new AloraException(string.Create(CultureInfo.InvariantCulture, $"{path}: malformed JSON at line {(ex.LineNumber ?? 0) + 1}"), ex);
        }
        using (doc)
        {
            var records = new List<DataRecord>(doc.RootElement.GetArrayLength());
            foreach (var item in doc.RootElement.EnumerateArray())
            {
                var location = string.Create(CultureInfo.InvariantCulture, $"item {records.Count + 1}");
                records.Add(MakeRecord(path, location, item.Clone()));
            }
            return records;
        }
    }

    private static DataRecord MakeRecord(string path, string location, JsonElement element)
    {
        if (element.ValueKind != JsonValueKind.Object)
            throw new AloraException($"{path} {location}: expected a JSON object, got {DataRecord.Describe(element)}");
        var record = new DataRecord(path, location, element);
        // JSON parsers disagree on which of two equal keys wins, so a record that has one twice is ambiguous.
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var property in element.EnumerateObject())
        {
            var name = record.Name(property);
            if (!names.Add(name))
                throw record.Error($"field '{name}' is given twice");
        }
        return record;
    }

    /// <summary>HF-style <c>{"data": [...]}</c> wrappers are a common export; say plainly that a top-level array is needed.</summary>
    private static void RejectWrapper(string path, List<DataRecord> records)
    {
        if (records.Count != 1 || records[0].Element.EnumerateObject().Count() != 1)
            return;
        var property = records[0].Element.EnumerateObject().First();
        var (name, value) = (records[0].Name(property), property.Value);
        // Only an array of objects is a wrapped dataset; {"input_ids": [...]} is a genuine one-record file.
        if (value.ValueKind == JsonValueKind.Array && value.GetArrayLength() > 0 && value[0].ValueKind == JsonValueKind.Object)
        {
            throw new AloraException(
                $"{path}: holds one object wrapping the list in '{name}'; write the items as a top-level JSON array or one object per line"
            );
        }
    }

    private static List<DataRecord> ReadParquet(string path)
    {
        var rows = ReadParquetWith(path, () =>
        {
            using var stream = File.OpenRead(path);
            return ParquetSerializer.DeserializeUntypedAsync(stream).GetAwaiter().GetResult().Data;
        });
        var records = new List<DataRecord>(rows.Count);
        var buffer = new ArrayBufferWriter<byte>();
        foreach (var row in rows)
        {
            buffer.Clear();
            using (var writer = new Utf8JsonWriter(buffer))
                WriteValue(writer, row);
            using var doc = JsonDocument.Parse(buffer.WrittenMemory);
            var location = string.Create(CultureInfo.InvariantCulture, $"row {records.Count + 1}");
            records.Add(new DataRecord(path, location, doc.RootElement.Clone()));
        }
        return records;
    }

    /// <summary>
    /// Runs a Parquet.Net read after checking the footer's bounds (<see cref="ParquetFooter"/>). The library reports
    /// a damaged file with whatever exception its decoder meets (NullReferenceException, its ThriftProtocolException,
    /// IndexOutOfRangeException...), so every exception but an <see cref="AloraException"/> of ours means "not a
    /// readable Parquet file".
    /// <para>
    /// Parquet.Net 6.1 can also run without end on a damaged file: on a footer that passes the bounds check it reads
    /// the known fields by the schema's types whatever the bytes say, and skipping unknown fields can go round a loop
    /// of up to 2^31 steps per list; on damaged pages its untyped row reader was seen running past any limit. So the
    /// footer read, then the read itself, run on a thread of their own with a time limit (5 s plus 1 s per MB; a sound
    /// file reads at tens of MB per second), past which the file is refused. Such a thread cannot be stopped: it runs
    /// on until it finishes or the process exits.
    /// </para>
    /// </summary>
    internal static T ReadParquetWith<T>(string path, Func<T> read)
    {
        int footer = ParquetFooter.Check(path);
        InTime(path, "its footer", TimeSpan.FromSeconds(5 + footer / 1e6), () =>
        {
            var reader = ParquetReader.CreateAsync(path).GetAwaiter().GetResult();
            reader.DisposeAsync().AsTask().GetAwaiter().GetResult();
            return 0;
        });
        return InTime(path, "its rows", TimeSpan.FromSeconds(5 + FileSize.Of(path) / 1e6), read);
    }

    static T InTime<T>(string path, string what, TimeSpan limit, Func<T> read)
    {
        // a thread of its own (LongRunning), so the limit measures the read, not a wait for a pool thread
        var task = Task.Factory.StartNew(read, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        try
        {
            if (task.Wait(limit))
                return task.Result;
        }
        catch (AggregateException ex) when (ex.InnerException is AloraException inner)
        {
            throw inner;
        }
        catch (AggregateException ex) when (ex.InnerException is { } inner)
        {
            throw new AloraException($"{path}: not a readable Parquet file ({inner.Message})", inner);
        }
        throw new AloraException(
            string.Create(
                CultureInfo.InvariantCulture,
                $"{path}: not a readable Parquet file (reading {what} took over {limit.TotalSeconds:0} s: the file is damaged)"
            )
        );
    }

    /// <summary>
    /// Parquet.Net's untyped rows hold strings as string or ReadOnlyMemory&lt;char&gt;, lists as List&lt;T&gt;
    /// and structs as dictionaries; System.Text.Json would mangle the memory type, so convert by hand.
    /// </summary>
    private static void WriteValue(Utf8JsonWriter w, object? value)
    {
        switch (value)
        {
            case null:
                w.WriteNullValue();
                break;
            case string s:
                w.WriteStringValue(s);
                break;
            case ReadOnlyMemory<char> m:
                w.WriteStringValue(m.Span);
                break;
            case bool b:
                w.WriteBooleanValue(b);
                break;
            case byte or sbyte or short or ushort or int or uint or long:
                w.WriteNumberValue(Convert.ToInt64(value, CultureInfo.InvariantCulture));
                break;
            case ulong u:
                w.WriteNumberValue(u);
                break;
            case float f when float.IsFinite(f):
                w.WriteNumberValue(f);
                break;
            case double d when double.IsFinite(d):
                w.WriteNumberValue(d);
                break;
            case decimal m:
                w.WriteNumberValue(m);
                break;
            case byte[] bytes:
                w.WriteBase64StringValue(bytes);
                break;
            case IDictionary<string, object> dict:
                w.WriteStartObject();
                foreach (var (key, item) in dict)
                {
                    w.WritePropertyName(key);
                    WriteValue(w, item);
                }
                w.WriteEndObject();
                break;
            case IEnumerable list:
                w.WriteStartArray();
                foreach (var item in list)
                    WriteValue(w, item);
                w.WriteEndArray();
                break;
            default:
                w.WriteStringValue(Convert.ToString(value, CultureInfo.InvariantCulture));
                break;
        }
    }
}
