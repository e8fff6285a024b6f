using System.Buffers.Binary;
using System.Numerics;
using System.Text;
using System.Text.Unicode;
using Alora.IO;
using CsCheck;
using static TorchSharp.torch;

namespace Alora.Tests.Properties;

/// <summary>One tensor of a generated file: its name, dtype, shape and raw little-endian bytes.</summary>
internal sealed record TensorCase(string Name, string DType, long[] Shape, byte[] Data);

/// <summary>A generated file's content, and the order its data and header list the tensors in.</summary>
internal sealed record FileCase(TensorCase[] Tensors, Dictionary<string, string> Metadata, int[] DataOrder, int[] HeaderOrder, string Padding)
{
    public override string ToString() =>
        string.Join(", ", Tensors.Select(t => $"{t.Name} {t.DType} {SafeTensorsFile.Fmt(t.Shape)}")) + $" meta {Metadata.Count}";
}

/// <summary>A file to open and what must come of it: the tensors (dtype, shape, bytes) and metadata, or null for "must fail".</summary>
internal sealed record OpenCase(string Kind, byte[] Bytes, Dictionary<string, TensorCase>? Expected, Dictionary<string, string>? Metadata)
{
    public override string ToString()
    {
        var n = Bytes.Length >= 8 ? (int)Math.Min(BinaryPrimitives.ReadUInt64LittleEndian(Bytes), (ulong)(Bytes.Length - 8)) : 0;
        return $"{Kind}: {(Expected is null ? "must fail" : "must load")}; header {Encoding.UTF8.GetString(Bytes, Math.Min(8, Bytes.Length), n)}";
    }
}

/// <summary>
/// Safetensors files built here from the format's description, independently of Alora's writer: an 8-byte
/// little-endian header length, the JSON header, the data. Element sizes are the format's (F4 and F6 in bits).
/// </summary>
internal static class SafeTensorsCases
{
    /// <summary>The dtypes Alora loads, with their element sizes and torch types.</summary>
    public static readonly (string Name, int Size, ScalarType Type)[] Loadable =
    [
        ("F32", 4, ScalarType.Float32),
        ("F16", 2, ScalarType.Float16),
        ("BF16", 2, ScalarType.BFloat16),
        ("F64", 8, ScalarType.Float64),
        ("I64", 8, ScalarType.Int64),
        ("I32", 4, ScalarType.Int32),
        ("I16", 2, ScalarType.Int16),
        ("I8", 1, ScalarType.Int8),
        ("U8", 1, ScalarType.Byte),
        ("BOOL", 1, ScalarType.Bool),
    ];

    /// <summary>Bits per element of every dtype the format defines.</summary>
    public static readonly Dictionary<string, int> FormatBits = new(StringComparer.Ordinal)
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

    public static int Size(string dtype) => FormatBits[dtype] / 8;

    static readonly Gen<string> NamePrefix = Gen.OneOf(
        Gen.String[Gen.Char["abcxyz._0123456789"], 0, 10],
        PropertyRun.Text.Select(s => s.Length > 10 ? s[..10] : s).Where(s => s.Length == 0 || !char.IsHighSurrogate(s[^1]))
    );

    static readonly Gen<TensorCase> Tensor =
        from d in Gen.Int[0, Loadable.Length - 1]
        from shape in Gen.Long[0, 4].Array[0, 3]
        let count = (int)shape.Aggregate(1L, (a, b) => a * b) * Loadable[d].Size
        from data in (Loadable[d].Name == "BOOL" ? Gen.Byte[0, 1] : Gen.Byte).Array[count]
        from prefix in NamePrefix
        select new TensorCase(prefix, Loadable[d].Name, shape, data);

    /// <summary>Files of 0-6 tensors (distinct names: the generated prefix and its index) and 0-3 metadata pairs.</summary>
    public static readonly Gen<FileCase> File =
        from tensors in Tensor.Array[0, 6]
        let named = tensors.Select((t, i) => t with { Name = t.Name + i.ToString(System.Globalization.CultureInfo.InvariantCulture) }).ToArray()
        from meta in Gen.Select(NamePrefix, PropertyRun.Text).Array[0, 3]
        from dataOrder in Gen.Shuffle(Enumerable.Range(0, named.Length).ToArray())
        from headerOrder in Gen.Shuffle(Enumerable.Range(0, named.Length).ToArray())
        from padding in Gen.String[Gen.Char[" \t\r\n"], 0, 7]
        select new FileCase(
            named,
            meta.Select((m, i) => (m.Item1 + "#" + i, m.Item2)).ToDictionary(m => m.Item1, m => m.Item2, StringComparer.Ordinal),
            dataOrder,
            headerOrder,
            padding
        );

    /// <summary>A JSON string literal with only the mandatory escapes (written here, not by a JSON library).</summary>
    public static string Json(string s)
    {
        var sb = new StringBuilder("\"");
        foreach (var c in s)
            sb.Append(
                c switch
                {
                    '"' => "\\\"",
                    '\\' => "\\\\",
                    < ' ' => $"\\u{(int)c:x4}",
                    _ => c.ToString(),
                }
            );
        return sb.Append('"').ToString();
    }

    public static string Shape(long[] shape) => "[" + string.Join(",", shape) + "]";

    /// <summary>The entries of a file: name, and its fields as JSON text (each one a mutation may replace).</summary>
    public sealed record Entry(string Name, string DType, string ShapeJson, long Begin, long End, string Extra = "")
    {
        /// <summary>Replaces the offsets' JSON (malformed offsets); by default [Begin,End].</summary>
        public string? Offsets { get; init; }

        /// <summary>Replaces the name's JSON (escaped spellings); by default <see cref="Json"/> of the name.</summary>
        public string? NameJson { get; init; }

        public string ToJson() =>
            $"{NameJson ?? Json(Name)}:{{\"dtype\":{DType},\"shape\":{ShapeJson},\"data_offsets\":{Offsets ?? $"[{Begin},{End}]"}{Extra}}}";
    }

    /// <summary>The entries in header order with offsets from the data order, and the data itself.</summary>
    public static (List<Entry> Entries, byte[] Data) Lay(FileCase f)
    {
        var begins = new long[f.Tensors.Length];
        var data = new List<byte>();
        foreach (var i in f.DataOrder)
        {
            begins[i] = data.Count;
            data.AddRange(f.Tensors[i].Data);
        }
        var entries = f
            .HeaderOrder.Select(i => new Entry(
                f.Tensors[i].Name,
                Json(f.Tensors[i].DType),
                Shape(f.Tensors[i].Shape),
                begins[i],
                begins[i] + f.Tensors[i].Data.Length
            ))
            .ToList();
        return (entries, data.ToArray());
    }

    public static string MetadataJson(Dictionary<string, string> meta) =>
        meta.Count == 0 ? "" : "\"__metadata__\":{" + string.Join(",", meta.Select(kv => Json(kv.Key) + ":" + Json(kv.Value))) + "}";

    public static string Header(IEnumerable<Entry> entries, string metadataJson) =>
        "{" + string.Join(",", new[] { metadataJson }.Where(m => m.Length > 0).Concat(entries.Select(e => e.ToJson()))) + "}";

    /// <summary>Length, header (with padding) and data, as the format lays them out.</summary>
    public static byte[] Bytes(string header, byte[] data, string padding = "") => Bytes(Encoding.UTF8.GetBytes(header + padding), data);

    public static byte[] Bytes(byte[] header, byte[] data)
    {
        var bytes = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)header.Length);
        header.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + header.Length);
        return bytes;
    }

    /// <summary>
    /// What any accepted file must satisfy, checked from the bytes and the parsed entries against the format:
    /// the header is UTF-8 starting with '{'; sorted by offset, the tensors tile the data from 0 to its end; each
    /// spans shape-product x element-size bytes; and a loaded tensor holds exactly the bytes of its range.
    /// </summary>
    public static void AssertFollowsTheFormat(SafeTensorsFile file, byte[] bytes)
    {
        var n = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        var header = bytes.AsSpan(8, (int)n);
        Assert.True(header.Length > 0 && header[0] == (byte)'{' && Utf8.IsValid(header), "header is UTF-8 and starts with '{'");
        long cursor = 0,
            dataLength = bytes.Length - 8 - n;
        foreach (var e in file.Entries.Values.OrderBy(e => e.Begin).ThenBy(e => e.End))
        {
            Assert.Equal(cursor, e.Begin);
            var bits = e.Shape.Aggregate(BigInteger.One, (a, b) => a * b) * FormatBits[e.DType];
            Assert.Equal(bits, new BigInteger(e.End - e.Begin) * 8);
            cursor = e.End;
            if (Loadable.Any(l => l.Name == e.DType))
            {
                using var t = file.Load(e.Name);
                var range = bytes.AsSpan((int)(8 + n + e.Begin), (int)(e.End - e.Begin)).ToArray();
                Assert.Equal(e.DType == "BOOL" ? range.Select(b => (byte)(b == 0 ? 0 : 1)).ToArray() : range, Raw(t)); // torch's bool is 0 or 1
            }
        }
        Assert.Equal(dataLength, cursor);
    }

    public static byte[] Raw(Tensor t) => t.numel() == 0 ? [] : t.bytes.ToArray();

    /// <summary>A torch tensor holding exactly the case's bytes.</summary>
    public static Tensor Make(TensorCase t)
    {
        var x = empty(t.Shape, Loadable.First(l => l.Name == t.DType).Type);
        if (t.Data.Length > 0)
            x.bytes = t.Data;
        return x;
    }

    /// <summary>Writes the case with Alora's writer and returns the file's bytes.</summary>
    public static byte[] WriteWithWriter(FileCase f, string path)
    {
        var tensors = f.Tensors.Select(t => new KeyValuePair<string, Tensor>(t.Name, Make(t))).ToList();
        try
        {
            SafeTensorsWriter.Write(path, tensors, f.Metadata);
        }
        finally
        {
            foreach (var kv in tensors)
                kv.Value.Dispose();
        }
        return System.IO.File.ReadAllBytes(path);
    }
}
