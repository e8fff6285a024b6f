using System.Buffers.Binary;
using System.Runtime.InteropServices;
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
        long fileLength = FileSize.Of(path);
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
