using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Alora.IO;
using static TorchSharp.torch;

namespace Alora.Tests.FileFormats;

/// <summary>
/// Header and layout rules of the safetensors format, on files built byte by byte here: the data after the header
/// is tiled exactly by the tensors' data_offsets, the header starts with '{' and may be padded only with JSON
/// whitespace, metadata values are strings, and sizes are checked without overflow. The cases marked "reference"
/// are those the reference implementation's own tests accept or refuse.
/// </summary>
public class SafeTensorsValidationTests
{
    /// <summary>8-byte little-endian header length, the header text, optional padding, then the data.</summary>
    internal static byte[] Build(string header, int dataLength, string padding = "", byte[]? data = null)
    {
        var h = Encoding.UTF8.GetBytes(header + padding);
        var bytes = new byte[8 + h.Length + dataLength];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)h.Length);
        h.CopyTo(bytes, 8);
        data?.CopyTo(bytes, 8 + h.Length);
        return bytes;
    }

    static string Write(TempDir dir, byte[] bytes, string name = "model.safetensors")
    {
        var path = dir.File(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    static string Error(string path) => Assert.Throws<AloraException>(() => SafeTensorsFile.Open(path)).Message;

    const string A = "\"a\":{\"dtype\":\"F32\",\"shape\":[16],\"data_offsets\":[0,64]}";

    [Fact]
    public void OverlappingTensorsAreRefused()
    {
        using var dir = new TempDir();
        // b reads bytes 32-63 of a: before, the file loaded and b silently shared a's bytes.
        var path = Write(dir, Build("{" + A + ",\"b\":{\"dtype\":\"F32\",\"shape\":[16],\"data_offsets\":[32,96]}}", 96));
        Assert.StartsWith($"{path}: tensors 'a' [0, 64) and 'b' [32, 96) overlap", Error(path), StringComparison.Ordinal);

        // Two names for the same bytes are an overlap too: the format gives every byte one owner.
        path = Write(dir, Build("{" + A + ",\"b\":{\"dtype\":\"F32\",\"shape\":[16],\"data_offsets\":[0,64]}}", 64));
        Assert.StartsWith($"{path}: tensors 'a' [0, 64) and 'b' [0, 64) overlap", Error(path), StringComparison.Ordinal);
    }

    [Fact]
    public void GapsAndUnindexedBytesAreRefused()
    {
        using var dir = new TempDir();
        var path = Write(dir, Build("{" + A + ",\"b\":{\"dtype\":\"F32\",\"shape\":[16],\"data_offsets\":[72,136]}}", 136));
        Assert.StartsWith(
            $"{path}: data bytes [64, 72) between tensors 'a' [0, 64) and 'b' [72, 136) belong to no tensor",
            Error(path),
            StringComparison.Ordinal
        );

        path = Write(dir, Build("{\"a\":{\"dtype\":\"F32\",\"shape\":[16],\"data_offsets\":[8,72]}}", 72));
        Assert.StartsWith($"{path}: data bytes [0, 8) before tensor 'a' [8, 72) belong to no tensor", Error(path), StringComparison.Ordinal);

        // reference (test_metadata_incomplete_buffer): bytes after the last tensor make the file invalid
        path = Write(dir, Build("{" + A + "}", 64 + 34));
        Assert.StartsWith(
            $"{path}: data bytes [64, 98) after the last tensor 'a' [0, 64) belong to no tensor",
            Error(path),
            StringComparison.Ordinal
        );

        path = Write(dir, Build("{}", 5));
        Assert.StartsWith($"{path}: 5 data bytes follow the header but it lists no tensors", Error(path), StringComparison.Ordinal);
    }

    [Fact]
    public void ValidLayoutsInAnyHeaderOrderLoad()
    {
        using var dir = new TempDir();
        // Header order differs from data order; zero-size tensors sit at boundaries (start, middle, end).
        var data = new byte[12];
        BinaryPrimitives.WriteInt32LittleEndian(data.AsSpan(0), 7);
        BinaryPrimitives.WriteInt16LittleEndian(data.AsSpan(4), -3);
        BinaryPrimitives.WriteInt16LittleEndian(data.AsSpan(6), 5);
        BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(8), 1.5f);
        var path = Write(
            dir,
            Build(
                "{\"c\":{\"dtype\":\"F32\",\"shape\":[1,1],\"data_offsets\":[8,12]},"
                    + "\"z0\":{\"dtype\":\"F64\",\"shape\":[0,3],\"data_offsets\":[0,0]},"
                    + "\"b\":{\"dtype\":\"I16\",\"shape\":[2],\"data_offsets\":[4,8]},"
                    + "\"z1\":{\"dtype\":\"I8\",\"shape\":[4,0],\"data_offsets\":[4,4]},"
                    + "\"a\":{\"dtype\":\"I32\",\"shape\":[],\"data_offsets\":[0,4]},"
                    + "\"z2\":{\"dtype\":\"BOOL\",\"shape\":[0],\"data_offsets\":[12,12]}}",
                12,
                "    ",
                data
            )
        );
        var f = SafeTensorsFile.Open(path);
        Assert.Equal(["a", "b", "c", "z0", "z1", "z2"], f.Entries.Keys.Order(StringComparer.Ordinal));
        using (var a = f.Load("a"))
        {
            Assert.Empty(a.shape);
            Assert.Equal(7, a.item<int>());
        }
        using (var b = f.Load("b"))
            Assert.Equal(new short[] { -3, 5 }, b.data<short>().ToArray());
        using (var c = f.Load("c"))
        {
            Assert.Equal([1L, 1L], c.shape);
            Assert.Equal(1.5f, c.item<float>());
        }
        using (var z = f.Load("z1"))
            Assert.Equal([4L, 0L], z.shape);
    }

    [Fact]
    public void ReferenceHeadersThatLoad()
    {
        using var dir = new TempDir();
        // reference test_empty: no tensors, padded with spaces to 8 bytes; with and without metadata
        Assert.Empty(SafeTensorsFile.Open(Write(dir, Build("{}", 0, "      "))).Entries);
        var meta = SafeTensorsFile.Open(Write(dir, Build("{\"__metadata__\":{\"framework\":\"pt\"}}", 0, "     ")));
        Assert.Equal("pt", meta.Metadata["framework"]);
        // reference test_whitespace_padded_header: any JSON whitespace may pad the end
        Assert.Empty(SafeTensorsFile.Open(Write(dir, Build("{}", 0, "\r \t\n"))).Entries);
        // reference test_zero_sized_tensor: shape [2, 0], no data bytes at all
        var zero = SafeTensorsFile.Open(Write(dir, Build("{\"test\":{\"dtype\":\"I32\",\"shape\":[2,0],\"data_offsets\":[0, 0]}}", 0)));
        Assert.Equal([2L, 0L], zero.Entries["test"].Shape);
        // a null __metadata__ is read as none, as the reference reads an optional map
        Assert.Empty(SafeTensorsFile.Open(Write(dir, Build("{\"__metadata__\":null}", 0))).Metadata);
    }

    [Fact]
    public void HeaderMustStartWithBraceAndPadOnlyWithWhitespace()
    {
        using var dir = new TempDir();
        // The format: "The header data MUST begin with a { character (0x7B)".
        var path = Write(dir, Build("\t\n{}", 0, "\r "));
        Assert.StartsWith($"{path}: safetensors header does not start with '{{'", Error(path), StringComparison.Ordinal);
        // NUL is not JSON whitespace; the reference rejects NUL padding as trailing characters.
        path = Write(dir, Build("{}", 0, "\0\0\0\0\0\0"));
        Assert.StartsWith($"{path}: safetensors header is not valid JSON", Error(path), StringComparison.Ordinal);
    }

    [Fact]
    public void NamesAndFieldsGivenTwiceAreRefused()
    {
        using var dir = new TempDir();
        var path = Write(dir, Build("{" + A + "," + A + "}", 64));
        Assert.Equal($"{path}: safetensors header names 'a' twice", Error(path));
        path = Write(dir, Build("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"I32\",\"shape\":[16],\"data_offsets\":[0,64]}}", 64));
        Assert.Equal($"{path}: tensor 'a': field 'dtype' is given twice", Error(path));
        path = Write(dir, Build("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0));
        Assert.Equal($"{path}: safetensors __metadata__ names 'k' twice", Error(path));
    }

    [Fact]
    public void MetadataHoldsOnlyStrings()
    {
        using var dir = new TempDir();
        var path = Write(dir, Build("{\"__metadata__\":{\"steps\":100}}", 0));
        Assert.Equal($"{path}: safetensors __metadata__ value of 'steps' must be a string, got a number (100)", Error(path));
        path = Write(dir, Build("{\"__metadata__\":[\"pt\"]}", 0));
        Assert.Equal($"{path}: safetensors __metadata__ must be an object of strings, got an array", Error(path));
    }

    [Fact]
    public void SizesAreCheckedWithoutOverflow()
    {
        using var dir = new TempDir();
        // (2^62 + 1) x 4 elements is 2^64 + 4, which wraps to 4 in 64-bit arithmetic: 16 bytes of F32, so before
        // this check the header "matched" its 16 data bytes.
        var path = Write(dir, Build("{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387905,4],\"data_offsets\":[0,16]}}", 16));
        Assert.Equal($"{path}: tensor 'a': F32 [4611686018427387905, 4] has more bits than a 64-bit count holds", Error(path));
        // reference test_validation_overflow
        path = Write(dir, Build("{\"test\":{\"dtype\":\"I32\",\"shape\":[2,9223372036854775807],\"data_offsets\":[0,16]}}", 16));
        Assert.Contains("more bits than a 64-bit count holds", Error(path), StringComparison.Ordinal);
        // reference test_invalid_info
        path = Write(dir, Build("{\"test\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0, 4]}}", 4));
        Assert.Equal($"{path}: tensor 'test': data_offsets [0, 4) span 4 bytes but I32 [2, 2] needs 16", Error(path));
        path = Write(dir, Build("{\"a\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", 8));
        Assert.Equal($"{path}: tensor 'a': shape element 0 must be a non-negative integer, got a number (2.0)", Error(path));
    }

    [Fact]
    public void DtypesOfTheFormatOpenAndOnlyLoadableOnesLoad()
    {
        using var dir = new TempDir();
        // F4 packs two elements per byte: 3 elements are not a whole number of bytes, 4 are 2 bytes.
        var path = Write(dir, Build("{\"a\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,2]}}", 2));
        Assert.Equal($"{path}: tensor 'a': F4 [3] is not a whole number of bytes", Error(path));
        path = Write(
            dir,
            Build("{\"a\":{\"dtype\":\"F4\",\"shape\":[4],\"data_offsets\":[0,2]},\"b\":{\"dtype\":\"U16\",\"shape\":[1],\"data_offsets\":[2,4]}}", 4)
        );
        var f = SafeTensorsFile.Open(path);
        Assert.Equal("U16", f.Entries["b"].DType);
        Assert.StartsWith(
            $"{path}: tensor 'b' has dtype U16, which Alora does not load",
            Assert.Throws<AloraException>(() => f.Load("b")).Message,
            StringComparison.Ordinal
        );
        Assert.Equal($"{path}: no tensor 'c'", Assert.Throws<AloraException>(() => f.Load("c")).Message);
        path = Write(dir, Build("{\"a\":{\"dtype\":\"F12\",\"shape\":[1],\"data_offsets\":[0,2]}}", 2));
        Assert.Equal($"{path}: tensor 'a': unknown dtype 'F12'", Error(path));
    }

    [Fact]
    public void HeaderTextMustBeUnicode()
    {
        using var dir = new TempDir();
        var bytes = Build("{\"a?\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1);
        bytes[8 + 3] = 0xFF; // the '?' of the name: before, it became U+FFFD and the file loaded
        var path = Write(dir, bytes);
        Assert.Equal($"{path}: safetensors header is not valid UTF-8 (byte offset 11 of the file)", Error(path));

        path = Write(dir, Build("{\"\\ud800\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1));
        Assert.StartsWith($"{path}: safetensors header holds a string escape that is not valid Unicode", Error(path), StringComparison.Ordinal);
    }

    [Fact]
    public void HeaderLengthOverTheLimit()
    {
        using var dir = new TempDir();
        var path = dir.File("big.safetensors");
        using (var fs = File.Create(path))
        {
            Span<byte> len = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(len, 100_000_001);
            fs.Write(len);
            fs.SetLength(8 + 100_000_001); // sparse: no data is written
        }
        Assert.StartsWith($"{path}: safetensors header length 100000001 is over the format's limit", Error(path), StringComparison.Ordinal);
    }

    [Fact]
    public void WriterAlignsDataAndRefusesAmbiguousNames()
    {
        using var dir = new TempDir();
        var path = dir.File("w.safetensors");
        using var a = tensor(new sbyte[] { 1 });
        using var b = tensor(new float[] { 2f });
        SafeTensorsWriter.Write(path, [new("a", a), new("b", b)]);
        // Read the header independently: b (4-byte elements) comes first so that it starts at a multiple of 4.
        var bytes = File.ReadAllBytes(path);
        var n = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0, n % 8);
        using var header = JsonDocument.Parse(bytes.AsMemory(8, n));
        Assert.Equal("[0,4]", header.RootElement.GetProperty("b").GetProperty("data_offsets").GetRawText());
        Assert.Equal("[4,5]", header.RootElement.GetProperty("a").GetProperty("data_offsets").GetRawText());

        Assert.Throws<ArgumentException>(() => SafeTensorsWriter.Write(path, [new("a", a), new("a", b)]));
        Assert.Throws<ArgumentException>(() => SafeTensorsWriter.Write(path, [new("__metadata__", a)]));
        Assert.Throws<ArgumentException>(() => SafeTensorsWriter.Write(path, [new("\ud800", a)]));
    }
}
