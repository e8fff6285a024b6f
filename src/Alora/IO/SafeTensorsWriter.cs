using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;
using TorchSharp;
using static TorchSharp.torch;

namespace Alora.IO;

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
