using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Alora.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Alora.IO;

/// <summary>One tensor's entry in a safetensors header.</summary>
public sealed record SafeTensorEntry(string Name, string DType, long[] Shape, long Begin, long End)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
}

/// <summary>
/// Reader of the safetensors format: an 8-byte little-endian header length N, N bytes of UTF-8 JSON (starting
/// with '{', optionally padded at the end with JSON whitespace) mapping names to {dtype, shape, data_offsets
/// [begin, end)} (offsets relative to the byte after the header), an optional "__metadata__" map of strings to
/// strings, then the raw little-endian data. The whole header is validated on open with the rules of the
/// reference implementation, so a truncated, padded or inconsistent file fails before any load: the tensors'
/// ranges must tile the data exactly (sorted by offset, each starts where the previous ends, the last ends at
/// the end of the file), so no byte is read as two tensors and none is left unindexed.
/// </summary>
public sealed class SafeTensorsFile
{
    /// <summary>The reference implementation refuses headers over 100 MB.</summary>
    const long MaxHeaderLength = 100_000_000;

    /// <summary>Bits per element of every dtype the reference implementation knows (F4 and F6 pack below a byte).</summary>
    static readonly Dictionary<string, int> ElementBits = new(StringComparer.Ordinal)
    {
        ["BOOL"] = 8,
        ["F4"] = 4,
        ["F6_E2M3"] = 6,
        ["F6_E3M2"] = 6,
        ["U8"] = 8,
        ["I8"] = 8,
        ["F8_E5M2"] = 8,
        ["F8_E4M3"] = 8,
        ["F8_E8M0"] = 8,
        ["I16"] = 16,
        ["U16"] = 16,
        ["F16"] = 16,
        ["BF16"] = 16,
        ["I32"] = 32,
        ["U32"] = 32,
        ["F32"] = 32,
        ["C64"] = 64,
        ["F64"] = 64,
        ["I64"] = 64,
        ["U64"] = 64,
    };

    public string Path { get; }
    public IReadOnlyDictionary<string, SafeTensorEntry> Entries { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }
    readonly long _dataStart;

    SafeTensorsFile(string path, Dictionary<string, SafeTensorEntry> entries, Dictionary<string, string> metadata, long dataStart)
    {
        Path = path;
        Entries = entries;
        Metadata = metadata;
        _dataStart = dataStart;
    }

    public static SafeTensorsFile Open(string path)
    {
        if (!File.Exists(path))
            throw new AloraException($"{path}: file not found");
        long fileLength = new FileInfo(path).Length;
        if (fileLength < 8)
            throw new AloraException($"{path}: not a safetensors file (only {fileLength} bytes, the header length alone needs 8)");
        using var fs = File.OpenRead(path);
        Span<byte> lenBytes = stackalloc byte[8];
        fs.ReadExactly(lenBytes);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lenBytes);
        if (headerLength > (ulong)(fileLength - 8))
            throw new AloraException(
                $"{path}: safetensors header length {headerLength} runs past the end of the file ({fileLength} bytes): the file is truncated or not safetensors"
            );
        if (headerLength > MaxHeaderLength)
            throw new AloraException(
                $"{path}: safetensors header length {headerLength} is over the format's limit of {MaxHeaderLength} bytes: the file is corrupt or not safetensors"
            );
        var headerBytes = new byte[headerLength];
        fs.ReadExactly(headerBytes);
        long dataStart = 8 + (long)headerLength;
        var (entries, metadata) = SafeTensorsHeader.Parse(path, headerBytes, fileLength - dataStart);
        return new SafeTensorsFile(path, entries, metadata, dataStart);
    }

    /// <summary>Bits per element of a dtype the format defines, or null for an unknown one.</summary>
    internal static int? BitsOf(string dtype) => ElementBits.TryGetValue(dtype, out var bits) ? bits : null;

    public static string Fmt(long[] shape) => "[" + string.Join(", ", shape) + "]";

    /// <summary>Reads one tensor and converts it to <paramref name="dtype"/> (F16/BF16/F32/F64 upcast exactly).</summary>
    public Tensor Load(string name, ScalarType? dtype = null, Device? device = null)
    {
        if (!Entries.TryGetValue(name, out var e))
            throw new AloraException($"{Path}: no tensor '{name}'");
        var bytes = new byte[e.End - e.Begin];
        try
        {
            using var fs = File.OpenRead(Path);
            fs.Seek(_dataStart + e.Begin, SeekOrigin.Begin);
            fs.ReadExactly(bytes);
        }
        catch (EndOfStreamException ex)
        {
            throw new AloraException($"{Path}: the file became shorter after it was opened (tensor '{name}')", ex);
        }
        Tensor t = e.DType switch
        {
            "F32" => tensor(MemoryMarshal.Cast<byte, float>(bytes).ToArray(), e.Shape),
            "F64" => tensor(MemoryMarshal.Cast<byte, double>(bytes).ToArray(), e.Shape),
            "F16" => FromRaw(bytes, e.Shape, ScalarType.Float16),
            "BF16" => FromRaw(bytes, e.Shape, ScalarType.BFloat16),
            "I64" => tensor(MemoryMarshal.Cast<byte, long>(bytes).ToArray(), e.Shape),
            "I32" => tensor(MemoryMarshal.Cast<byte, int>(bytes).ToArray(), e.Shape),
            "I16" => tensor(MemoryMarshal.Cast<byte, short>(bytes).ToArray(), e.Shape),
            "I8" => tensor(MemoryMarshal.Cast<byte, sbyte>(bytes).ToArray(), e.Shape),
            "U8" => tensor(bytes, e.Shape),
            "BOOL" => tensor(bytes.Select(b => b != 0).ToArray(), e.Shape),
            _ => throw new AloraException(
                $"{Path}: tensor '{name}' has dtype {e.DType}, which Alora does not load (F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL)"
            ),
        };
        if (dtype is { } d && t.dtype != d)
        {
            var c = t.to_type(d);
            t.Dispose();
            t = c;
        }
        if (device is { } dev && dev.type != DeviceType.CPU)
        {
            var c = t.to(dev);
            t.Dispose();
            t = c;
        }
        return t;
    }

    static Tensor FromRaw(byte[] bytes, long[] shape, ScalarType type)
    {
        var t = empty(shape, type);
        if (bytes.Length > 0)
            t.bytes = bytes;
        return t;
    }
}

/// <summary>
/// Parses and checks a safetensors header with the reference implementation's rules. Stricter where the reference
/// only happens to fail: a name given twice is refused outright (the reference keeps the last and then fails on the
/// bytes the first one left unindexed), and so is a field given twice inside an entry or in "__metadata__".
/// </summary>
static class SafeTensorsHeader
{
    public static (Dictionary<string, SafeTensorEntry>, Dictionary<string, string>) Parse(string path, byte[] header, long dataLength)
    {
        int invalid = Utf8Text.FirstInvalid(header);
        if (invalid >= 0)
            throw new AloraException($"{path}: safetensors header is not valid UTF-8 (byte offset {8 + invalid} of the file)");
        if (header.Length == 0 || header[0] != (byte)'{')
            throw new AloraException(
                $"{path}: safetensors header does not start with '{{' (the format requires the JSON object to begin right after the 8-byte length)"
            );
        JsonDocument doc;
        try
        {
            // Default options: no comments, no trailing commas; trailing JSON whitespace (the padding) is accepted, NUL bytes are not.
            doc = JsonDocument.Parse(header);
        }
        catch (JsonException e)
        {
            throw new AloraException($"{path}: safetensors header is not valid JSON ({FirstSentence(e.Message)})", e);
        }
        using (doc)
        {
            var entries = new Dictionary<string, SafeTensorEntry>(StringComparer.Ordinal);
            Dictionary<string, string>? metadata = null;
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                string name = Name(path, p);
                if (entries.ContainsKey(name) || (name == "__metadata__" && metadata is not null))
                    throw new AloraException($"{path}: safetensors header names '{name}' twice");
                if (name == "__metadata__")
                    metadata = ReadMetadata(path, p.Value);
                else
                    entries[name] = ReadEntry(path, name, p.Value, dataLength);
            }
            CheckLayout(path, entries.Values, dataLength);
            return (entries, metadata ?? new Dictionary<string, string>(StringComparer.Ordinal));
        }
    }

    /// <summary>The reference reads "__metadata__" as an optional map of strings to strings (null = absent).</summary>
    static Dictionary<string, string> ReadMetadata(string path, JsonElement node)
    {
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        if (node.ValueKind == JsonValueKind.Null)
            return metadata;
        if (node.ValueKind != JsonValueKind.Object)
            throw new AloraException($"{path}: safetensors __metadata__ must be an object of strings, got {Kind(node)}");
        foreach (var p in node.EnumerateObject())
        {
            string key = Name(path, p);
            if (p.Value.ValueKind != JsonValueKind.String)
                throw new AloraException($"{path}: safetensors __metadata__ value of '{key}' must be a string, got {Kind(p.Value)}");
            if (!metadata.TryAdd(key, Str(path, p.Value)))
                throw new AloraException($"{path}: safetensors __metadata__ names '{key}' twice");
        }
        return metadata;
    }

    static SafeTensorEntry ReadEntry(string path, string name, JsonElement node, long dataLength)
    {
        AloraException Bad(string why) => new($"{path}: tensor '{name}': {why}");
        if (node.ValueKind != JsonValueKind.Object)
            throw Bad($"entry is {Kind(node)}, expected an object with dtype, shape and data_offsets");
        JsonElement? dtypeNode = null,
            shapeNode = null,
            offsetsNode = null;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var p in node.EnumerateObject())
        {
            string field = Name(path, p);
            if (!seen.Add(field))
                throw Bad($"field '{field}' is given twice");
            switch (field)
            {
                case "dtype":
                    dtypeNode = p.Value;
                    break;
                case "shape":
                    shapeNode = p.Value;
                    break;
                case "data_offsets":
                    offsetsNode = p.Value;
                    break;
                default:
                    break; // the reference ignores other fields
            }
        }
        if (dtypeNode is not { ValueKind: JsonValueKind.String } d)
            throw Bad(dtypeNode is null ? "no dtype" : $"dtype must be a string, got {Kind(dtypeNode.Value)}");
        string dtype = Str(path, d);
        int bits = SafeTensorsFile.BitsOf(dtype) ?? throw Bad($"unknown dtype '{dtype}'");
        long[] shape = Integers(shapeNode, "shape", Bad);
        long[] offsets = Integers(offsetsNode, "data_offsets", Bad);
        if (offsets.Length != 2)
            throw Bad($"data_offsets must hold two numbers [begin, end], got {offsets.Length}");
        long begin = offsets[0],
            end = offsets[1];
        if (end < begin)
            throw Bad($"data_offsets [{begin}, {end}] end before they begin");
        if (end > dataLength)
            throw Bad($"data_offsets [{begin}, {end}) run past the end of the data ({dataLength} bytes): the file is truncated");
        long bytes;
        try
        {
            long bitCount = checked(shape.Aggregate(1L, (a, b) => a * b) * bits);
            if (bitCount % 8 != 0)
                throw Bad($"{dtype} {SafeTensorsFile.Fmt(shape)} is not a whole number of bytes");
            bytes = bitCount / 8;
        }
        catch (OverflowException)
        {
            throw Bad($"{dtype} {SafeTensorsFile.Fmt(shape)} has more bits than a 64-bit count holds");
        }
        if (end - begin != bytes)
            throw Bad($"data_offsets [{begin}, {end}) span {end - begin} bytes but {dtype} {SafeTensorsFile.Fmt(shape)} needs {bytes}");
        return new SafeTensorEntry(name, dtype, shape, begin, end);
    }

    /// <summary>An array of non-negative integers (the reference reads them as unsigned sizes).</summary>
    static long[] Integers(JsonElement? node, string field, Func<string, AloraException> bad)
    {
        if (node is not { ValueKind: JsonValueKind.Array } array)
            throw bad(node is null ? $"no {field}" : $"{field} must be an array of integers, got {Kind(node.Value)}");
        var values = new long[array.GetArrayLength()];
        int i = 0;
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out long v) || v < 0)
                throw bad($"{field} element {i} must be a non-negative integer, got {Kind(item)}");
            values[i++] = v;
        }
        return values;
    }

    /// <summary>
    /// Every data byte belongs to exactly one tensor: sorted by offset, each range starts where the previous one
    /// ends, the first at 0 and the last at the end of the file. Zero-size tensors sit at a boundary.
    /// </summary>
    static void CheckLayout(string path, IEnumerable<SafeTensorEntry> entries, long dataLength)
    {
        const string Rule = "the tensors' data_offsets must cover the data exactly, with no gaps and no overlaps";
        long cursor = 0;
        SafeTensorEntry? prev = null;
        foreach (var e in entries.OrderBy(e => e.Begin).ThenBy(e => e.End).ThenBy(e => e.Name, StringComparer.Ordinal))
        {
            if (e.Begin < cursor)
                throw new AloraException($"{path}: tensors '{prev!.Name}' {Range(prev)} and '{e.Name}' {Range(e)} overlap: {Rule}");
            if (e.Begin > cursor)
                throw new AloraException(
                    prev is null
                        ? $"{path}: data bytes [0, {e.Begin}) before tensor '{e.Name}' {Range(e)} belong to no tensor: {Rule}"
                        : $"{path}: data bytes [{cursor}, {e.Begin}) between tensors '{prev.Name}' {Range(prev)} and '{e.Name}' {Range(e)} belong to no tensor: {Rule}"
                );
            cursor = e.End;
            prev = e;
        }
        if (cursor < dataLength)
            throw new AloraException(
                prev is null
                    ? $"{path}: {dataLength} data bytes follow the header but it lists no tensors: {Rule}"
                    : $"{path}: data bytes [{cursor}, {dataLength}) after the last tensor '{prev.Name}' {Range(prev)} belong to no tensor: {Rule}"
            );
    }

    static string Range(SafeTensorEntry e) => $"[{e.Begin}, {e.End})";

    /// <summary>JSON escapes can spell an unpaired surrogate, which has no UTF-8 form (the reference rejects it too).</summary>
    static string Str(string path, JsonElement e)
    {
        try
        {
            return e.GetString()!;
        }
        catch (InvalidOperationException ex)
        {
            throw NotUnicode(path, ex);
        }
    }

    static string Name(string path, JsonProperty p)
    {
        try
        {
            return p.Name;
        }
        catch (InvalidOperationException ex)
        {
            throw NotUnicode(path, ex);
        }
    }

    static AloraException NotUnicode(string path, Exception inner) =>
        new($"{path}: safetensors header holds a string escape that is not valid Unicode (an unpaired surrogate such as \\ud800)", inner);

    static string Kind(JsonElement e) =>
        e.ValueKind switch
        {
            JsonValueKind.Object => "an object",
            JsonValueKind.Array => "an array",
            JsonValueKind.String => "a string",
            JsonValueKind.Number => $"a number ({Short(e.GetRawText())})",
            JsonValueKind.True or JsonValueKind.False => "a boolean",
            _ => "null",
        };

    static string Short(string s) => s.Length <= 40 ? s : s[..40] + "...";

    static string FirstSentence(string s)
    {
        var i = s.IndexOf(". ", StringComparison.Ordinal);
        return i > 0 ? s[..i] : s;
    }
}

/// <summary>Writer of safetensors files, atomically (temporary file, then rename).</summary>
public static class SafeTensorsWriter
{
    /// <summary>
    /// Writes the tensors with their data in order of decreasing element size, then name, as the reference writer
    /// does: with the header padded to a multiple of 8 bytes, every tensor then starts at a multiple of its element
    /// size. Names must be distinct, valid Unicode and not "__metadata__" (the format's own key): anything else would
    /// give a file that no reader accepts.
    /// </summary>
    public static void Write(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        var items = tensors
            .Select(kv =>
            {
                CheckName(kv.Key, "tensor name");
                if (kv.Key == "__metadata__")
                    throw new ArgumentException("'__metadata__' is the safetensors format's own key and cannot name a tensor", nameof(tensors));
                if (!names.Add(kv.Key))
                    throw new ArgumentException($"tensor '{kv.Key}' is given twice", nameof(tensors));
                var (dtype, size) = DType(kv.Key, kv.Value.dtype);
                return (Name: kv.Key, Tensor: kv.Value, DType: dtype, Size: size);
            })
            .OrderByDescending(x => x.Size)
            .ThenBy(x => x.Name, StringComparer.Ordinal)
            .ToList();
        var header = new JsonObject();
        if (metadata is { Count: > 0 })
        {
            var m = new JsonObject();
            foreach (var (k, v) in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                CheckName(k, "metadata key");
                CheckName(v, "metadata value");
                m[k] = v;
            }
            header["__metadata__"] = m;
        }
        long offset = 0;
        var blobs = new List<byte[]>();
        foreach (var (name, t, dtype, _) in items)
        {
            using var scope = NewDisposeScope(); // detach() and cpu() make temporaries: the scope keeps them alive through the calls
            var cpu = t.detach().cpu().contiguous();
            var blob = cpu.numel() == 0 ? [] : cpu.bytes.ToArray();
            header[name] = new JsonObject
            {
                ["dtype"] = dtype,
                ["shape"] = new JsonArray(cpu.shape.Select(d => (JsonNode)JsonValue.Create(d)).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + blob.Length),
            };
            offset += blob.Length;
            blobs.Add(blob);
        }
        var headerBytes = Encoding.UTF8.GetBytes(header.ToJsonString());
        int pad = (8 - headerBytes.Length % 8) % 8; // the reference implementation pads the header with spaces to 8 bytes
        AtomicFile.Write(path, fs =>
        {
            Span<byte> len = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)(headerBytes.Length + pad));
            fs.Write(len);
            fs.Write(headerBytes);
            for (int i = 0; i < pad; i++)
                fs.WriteByte((byte)' ');
            foreach (var b in blobs)
                fs.Write(b);
        });
    }

    static (string DType, int Size) DType(string name, ScalarType type) =>
        type switch
        {
            ScalarType.Float64 => ("F64", 8),
            ScalarType.Int64 => ("I64", 8),
            ScalarType.Float32 => ("F32", 4),
            ScalarType.Int32 => ("I32", 4),
            ScalarType.Float16 => ("F16", 2),
            ScalarType.BFloat16 => ("BF16", 2),
            ScalarType.Int16 => ("I16", 2),
            ScalarType.Int8 => ("I8", 1),
            ScalarType.Byte => ("U8", 1),
            ScalarType.Bool => ("BOOL", 1),
            _ => throw new AloraException($"cannot write tensor '{name}' of type {type} to safetensors"),
        };

    /// <summary>A string with an unpaired surrogate has no UTF-8 form: the header would hold an escape readers reject.</summary>
    static void CheckName(string s, string what)
    {
        try
        {
            _ = Utf8Text.Strict.GetByteCount(s);
        }
        catch (EncoderFallbackException e)
        {
            throw new ArgumentException($"{what} '{s}' is not valid Unicode (unpaired surrogate)", e);
        }
    }
}
