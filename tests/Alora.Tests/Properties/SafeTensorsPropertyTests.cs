using System.Text;
using System.Text.Json.Nodes;
using Alora.IO;
using CsCheck;
using static Alora.Tests.Properties.SafeTensorsCases;

namespace Alora.Tests.Properties;

/// <summary>
/// The safetensors reader against the format: every file either opens to exactly what it holds, or fails with an
/// <see cref="AloraException"/> naming the file; invalid files (by the rules in <see cref="SafeTensorsMutations"/>)
/// never open. Replaying a failure: see <see cref="PropertyRun"/> (paste the printed seed into <see cref="Seed"/>).
/// </summary>
public sealed class SafeTensorsPropertyTests : IDisposable
{
    /// <summary>A seed printed by a failing run, to replay that case first; null for random cases only.</summary>
    const string? Seed = null;

    readonly CaseDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void WriterFilesReadBackExactly() =>
        PropertyRun.Check(
            SafeTensorsCases.File,
            f =>
            {
                var path = PropertyRun.NewFile(_dir, ".safetensors");
                try
                {
                    var bytes = WriteWithWriter(f, path);
                    var file = PropertyRun.Succeeds(path, "written by SafeTensorsWriter", () => SafeTensorsFile.Open(path));
                    AssertHolds(file, f.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal), f.Metadata);
                    AssertFollowsTheFormat(file, bytes);
                    // The writer orders data so that every tensor starts at a multiple of its element size.
                    Assert.Equal(0UL, BitConverter.ToUInt64(bytes) % 8);
                    Assert.All(file.Entries.Values, e => Assert.Equal(0, e.Begin % Size(e.DType)));
                }
                finally
                {
                    System.IO.File.Delete(path);
                }
            },
            iter: 3000,
            Seed
        );

    [Fact]
    public void GeneratedAndMutatedFilesOpenExactlyAsTheFormatSays() =>
        PropertyRun.Check(SafeTensorsMutations.Any, c => PropertyRun.WithFile(_dir, ".safetensors", c.Bytes, path =>
                {
                    var (file, error) = PropertyRun.Outcome(path, () => SafeTensorsFile.Open(path));
                    if (c.Expected is null)
                    {
                        if (file is not null)
                            throw new InvalidOperationException($"an invalid file opened ({c.Kind})");
                        return;
                    }
                    if (file is null)
                        throw new InvalidOperationException($"a valid file was refused ({c.Kind}): {error}");
                    AssertHolds(file, c.Expected, c.Metadata!);
                }), iter: 20000, Seed, c => c.ToString());

    /// <summary>
    /// Eight damaged copies of each file the writer made (the writer syncs to disk, so files are reused): a cut
    /// must fail (a tiled file cut short leaves a tensor past the end, or no header); 1-3 flipped bits, mostly in
    /// the length and header, must fail or give a file that follows the format.
    /// </summary>
    [Fact]
    public void BitFlipsAndCutsOfWrittenFiles() =>
        PropertyRun.Check(
            Gen.Select(SafeTensorsCases.File, Gen.Int[0, int.MaxValue].Array[1, 3].Array[8], Gen.Int[0, 3].Array[8]),
            (f, flips, hows) =>
            {
                var source = PropertyRun.NewFile(_dir, ".src");
                byte[] written;
                try
                {
                    written = WriteWithWriter(f, source);
                }
                finally
                {
                    System.IO.File.Delete(source);
                }
                var headerEnd = 8 + (int)BitConverter.ToUInt64(written);
                for (var v = 0; v < flips.Length; v++)
                {
                    if (hows[v] == 0)
                    {
                        PropertyRun.WithFile(_dir, ".safetensors", written[..(flips[v][0] % written.Length)], path =>
                        {
                            if (PropertyRun.Outcome(path, () => SafeTensorsFile.Open(path)).Value is not null)
                                throw new InvalidOperationException("a cut file opened");
                        });
                        continue;
                    }
                    var bytes = written.ToArray();
                    foreach (var p in flips[v])
                        bytes[hows[v] == 3 ? p % bytes.Length : p % headerEnd] ^= (byte)(1 << (p / 7 % 8));
                    PropertyRun.WithFile(_dir, ".safetensors", bytes, path =>
                    {
                        if (PropertyRun.Outcome(path, () => SafeTensorsFile.Open(path)).Value is { } file)
                            AssertFollowsTheFormat(file, bytes);
                    });
                }
            },
            iter: 1000,
            Seed
        );

    static readonly Gen<JsonNode?> RandomJson = Gen.Recursive<JsonNode?>(
        (depth, self) =>
        {
            var key = Gen.OneOf(Gen.OneOf("dtype", "shape", "data_offsets", "__metadata__", "a", "b", ""), Gen.String[Gen.Char["ab_\u00e9"], 0, 4]);
            var value = Gen.OneOf<JsonNode?>(
                Gen.Const((JsonNode?)null),
                Gen.Long[-3, 40].Select(v => (JsonNode?)JsonValue.Create(v)),
                Gen.OneOf(long.MaxValue, long.MinValue, 1L << 62, (1L << 62) + 1).Select(v => (JsonNode?)JsonValue.Create(v)),
                Gen.Double.Select(v => double.IsFinite(v) ? (JsonNode?)JsonValue.Create(v) : null),
                Gen.OneOf("F32", "U8", "BOOL", "F4", "x", "").Select(v => (JsonNode?)JsonValue.Create(v)),
                Gen.Bool.Select(v => (JsonNode?)JsonValue.Create(v))
            );
            if (depth >= 4)
                return value;
            var obj = Gen.Select(key, self)
                .Array[0, 4]
                .Select(kvs =>
                {
                    var o = new JsonObject();
                    foreach (var (k, v) in kvs)
                        o[k] = v; // a repeated key keeps the last value
                    return (JsonNode?)o;
                });
            var arr = self.Array[0, 4].Select(items => (JsonNode?)new JsonArray(items));
            return Gen.Frequency((3, obj), (2, arr), (2, value));
        }
    );

    [Fact]
    public void RandomHeadersAndBytesNeverCrash() =>
        PropertyRun.Check(
            Gen.Select(RandomJson, Gen.Byte.Array[0, 40], Gen.Byte.Array[0, 48], Gen.Int[0, 2]),
            (json, data, raw, how) =>
            {
                byte[] bytes = how switch
                {
                    0 => raw, // anything at all
                    1 => Bytes(Encoding.UTF8.GetBytes(json?.ToJsonString() ?? "null"), data),
                    _ => Bytes(Encoding.UTF8.GetBytes("{" + (json?.ToJsonString() ?? "null").Trim('{', '}') + "}"), data),
                };
                PropertyRun.WithFile(_dir, ".safetensors", bytes, path =>
                {
                    if (PropertyRun.Outcome(path, () => SafeTensorsFile.Open(path)).Value is { } file)
                        AssertFollowsTheFormat(file, bytes);
                });
            },
            iter: 10000,
            Seed
        );

    /// <summary>The file holds exactly these tensors (dtype, shape, bytes) and metadata.</summary>
    static void AssertHolds(SafeTensorsFile file, Dictionary<string, TensorCase> expected, Dictionary<string, string> metadata)
    {
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), file.Entries.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal), file.Metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal));
        foreach (var t in expected.Values)
        {
            var e = file.Entries[t.Name];
            Assert.Equal(t.DType, e.DType);
            Assert.Equal(t.Shape, e.Shape);
            if (!Loadable.Any(l => l.Name == t.DType))
                continue;
            using var loaded = file.Load(t.Name);
            Assert.Equal(t.Shape, loaded.shape);
            // torch's bool holds 0 or 1: any non-zero byte reads as true.
            Assert.Equal(t.DType == "BOOL" ? t.Data.Select(b => (byte)(b == 0 ? 0 : 1)).ToArray() : t.Data, Raw(loaded));
        }
    }
}
