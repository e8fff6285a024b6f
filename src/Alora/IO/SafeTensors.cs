using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using TorchSharp;
using static TorchSharp.torch;

namespace Alora.IO;

/// <summary>One tensor's entry in a safetensors header.</summary>
public sealed record SafeTensorEntry(string Name, string DType, long[] Shape, long Begin, long End)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
}

/// <summary>
/// Reader of the safetensors format: an 8-byte little-endian header length N, N bytes of JSON
/// mapping names to {dtype, shape, data_offsets [begin, end)} (offsets relative to the byte after
/// the header), an optional "__metadata__" string map, then the raw little-endian data.
/// The whole header is validated on open, so a truncated or inconsistent file fails before any load.
/// </summary>
public sealed class SafeTensorsFile
{
    static readonly Dictionary<string, int> ElementSizes = new()
    {
        ["F64"] = 8, ["F32"] = 4, ["F16"] = 2, ["BF16"] = 2, ["I64"] = 8, ["I32"] = 4, ["I16"] = 2,
        ["I8"] = 1, ["U8"] = 1, ["BOOL"] = 1,
    };

    public string Path { get; }
    public IReadOnlyDictionary<string, SafeTensorEntry> Entries { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }
    readonly long _dataStart;

    SafeTensorsFile(string path, Dictionary<string, SafeTensorEntry> entries, Dictionary<string, string> metadata, long dataStart)
    {
        Path = path; Entries = entries; Metadata = metadata; _dataStart = dataStart;
    }

    public static SafeTensorsFile Open(string path)
    {
        if (!File.Exists(path)) throw new AloraException($"{path}: file not found");
        long fileLength = new FileInfo(path).Length;
        if (fileLength < 8) throw new AloraException($"{path}: not a safetensors file (only {fileLength} bytes, the header length alone needs 8)");
        using var fs = File.OpenRead(path);
        Span<byte> lenBytes = stackalloc byte[8];
        fs.ReadExactly(lenBytes);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lenBytes);
        if (headerLength > (ulong)(fileLength - 8) || headerLength > 100_000_000)
            throw new AloraException($"{path}: safetensors header length {headerLength} runs past the end of the file ({fileLength} bytes): the file is truncated or not safetensors");
        var headerBytes = new byte[headerLength];
        fs.ReadExactly(headerBytes);
        JsonObject header;
        try
        {
            header = JsonNode.Parse(Encoding.UTF8.GetString(headerBytes).TrimEnd(' ', '\0')) as JsonObject
                ?? throw new AloraException($"{path}: safetensors header is not a JSON object");
        }
        catch (JsonException e)
        {
            throw new AloraException($"{path}: safetensors header is not valid JSON ({e.Message})", e);
        }
        long dataStart = 8 + (long)headerLength, dataLength = fileLength - dataStart;
        var entries = new Dictionary<string, SafeTensorEntry>(StringComparer.Ordinal);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, node) in header)
        {
            if (name == "__metadata__")
            {
                if (node is JsonObject m)
                    foreach (var (k, v) in m) metadata[k] = v?.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : v?.ToJsonString() ?? "";
                continue;
            }
            entries[name] = ParseEntry(path, name, node, dataLength);
        }
        return new SafeTensorsFile(path, entries, metadata, dataStart);
    }

    static SafeTensorEntry ParseEntry(string path, string name, JsonNode? node, long dataLength)
    {
        try
        {
            var o = node as JsonObject ?? throw new FormatException("entry is not an object");
            string dtype = o["dtype"]?.GetValue<string>() ?? throw new FormatException("no dtype");
            if (!ElementSizes.TryGetValue(dtype, out int size)) throw new FormatException($"unsupported dtype {dtype}");
            var shape = (o["shape"] as JsonArray ?? throw new FormatException("no shape")).Select(x => x!.GetValue<long>()).ToArray();
            var offs = o["data_offsets"] as JsonArray ?? throw new FormatException("no data_offsets");
            if (offs.Count != 2) throw new FormatException("data_offsets must have two numbers");
            long begin = offs[0]!.GetValue<long>(), end = offs[1]!.GetValue<long>();
            var e = new SafeTensorEntry(name, dtype, shape, begin, end);
            if (shape.Any(d => d < 0)) throw new FormatException("negative dimension");
            if (begin < 0 || end < begin) throw new FormatException($"invalid data_offsets [{begin}, {end}]");
            if (end > dataLength) throw new FormatException($"data_offsets [{begin}, {end}] run past the end of the data ({dataLength} bytes): the file is truncated");
            if (end - begin != e.ElementCount * size)
                throw new FormatException($"data_offsets span {end - begin} bytes but {dtype} {Fmt(shape)} needs {e.ElementCount * size}");
            return e;
        }
        catch (Exception ex) when (ex is FormatException or InvalidOperationException or JsonException)
        {
            throw new AloraException($"{path}: tensor '{name}': {ex.Message}", ex);
        }
    }

    public static string Fmt(long[] shape) => "[" + string.Join(", ", shape) + "]";

    /// <summary>Reads one tensor and converts it to <paramref name="dtype"/> (F16/BF16/F32/F64 upcast exactly).</summary>
    public Tensor Load(string name, ScalarType? dtype = null, Device? device = null)
    {
        var e = Entries[name];
        var bytes = new byte[e.End - e.Begin];
        using (var fs = File.OpenRead(Path))
        {
            fs.Seek(_dataStart + e.Begin, SeekOrigin.Begin);
            fs.ReadExactly(bytes);
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
            _ => throw new AloraException($"{Path}: tensor '{name}' has unsupported dtype {e.DType}"),
        };
        if (dtype is { } d && t.dtype != d) { var c = t.to_type(d); t.Dispose(); t = c; }
        if (device is { } dev && dev.type != DeviceType.CPU) { var c = t.to(dev); t.Dispose(); t = c; }
        return t;
    }

    static Tensor FromRaw(byte[] bytes, long[] shape, ScalarType type)
    {
        var t = empty(shape, type);
        if (bytes.Length > 0) t.bytes = bytes;
        return t;
    }
}

/// <summary>Writer of safetensors files, atomically (temporary file, then rename).</summary>
public static class SafeTensorsWriter
{
    public static void Write(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var items = tensors.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList();
        var header = new JsonObject();
        if (metadata is { Count: > 0 })
        {
            var m = new JsonObject();
            foreach (var (k, v) in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal)) m[k] = v;
            header["__metadata__"] = m;
        }
        long offset = 0;
        var blobs = new List<byte[]>();
        foreach (var (name, t) in items)
        {
            using var cpu = t.detach().cpu().contiguous();
            string dtype = cpu.dtype switch
            {
                ScalarType.Float32 => "F32", ScalarType.Float16 => "F16", ScalarType.BFloat16 => "BF16",
                ScalarType.Float64 => "F64", ScalarType.Int64 => "I64", ScalarType.Int32 => "I32",
                ScalarType.Int8 => "I8", ScalarType.Byte => "U8", ScalarType.Bool => "BOOL",
                _ => throw new AloraException($"cannot write tensor '{name}' of type {cpu.dtype} to safetensors"),
            };
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
            for (int i = 0; i < pad; i++) fs.WriteByte((byte)' ');
            foreach (var b in blobs) fs.Write(b);
        });
    }
}
