using Alora.Data;
using Alora.Tests.Data;
using CsCheck;
using Parquet.Serialization;

namespace Alora.Tests.Properties;

/// <summary>
/// Parquet corpora written by Parquet.Net (another library than the reader's code): they read back exactly, and
/// damaged copies (cut anywhere, or with bits flipped in the pages) either read or fail with an
/// <see cref="AloraException"/> naming the file. Flips in the footer are left out: Parquet.Net can loop for minutes
/// on some of them, which the reader stops after a time limit (ParquetDamageTests) but cannot kill, and the
/// abandoned threads would slow the rest of the suite.
/// Replaying a failure: see <see cref="PropertyRun"/>.
/// </summary>
public sealed class ParquetPropertyTests : IDisposable
{
    /// <summary>A seed printed by a failing run, to replay that case first; null for random cases only.</summary>
    const string? Seed = null;

    readonly CaseDir _dir = new();

    public void Dispose() => _dir.Dispose();

    static byte[] Write(string[] texts)
    {
        using var stream = new MemoryStream();
        ParquetSerializer.SerializeAsync(texts.Select(t => new TextRow { text = t, meta = "m" }).ToArray(), stream).GetAwaiter().GetResult();
        return stream.ToArray();
    }

    [Fact]
    public void ParquetCorporaReadExactlyAndDamagedOnesFailCleanly() => PropertyRun.Check(
        Gen.Select(PropertyRun.Text.Array[1, 5], Gen.Int[0, int.MaxValue].Array[1, 4].Array[6], Gen.Int[0, 2].Array[6]), (texts, damages, hows) =>
        {
            var bytes = Write(texts);
            PropertyRun.WithFile(_dir, ".parquet", bytes, path =>
            {
                var (docs, error) = PropertyRun.Outcome(path, () => TextCorpus.Read(path));
                if (texts.All(t => t.Length == 0))
                    Assert.Equal($"{path}: contains only empty documents", error);
                else
                    Assert.Equal(texts, docs!.Select(d => d.Text));
            });
            for (var v = 0; v < damages.Length; v++)
            {
                var damaged = bytes.ToArray();
                if (hows[v] == 0)
                    damaged = damaged[..(damages[v][0] % damaged.Length)];
                else
                {
                    var footerStart = damaged.Length - 8 - BitConverter.ToInt32(damaged, damaged.Length - 8);
                    foreach (var p in damages[v]) damaged[4 + p % (footerStart - 4)] ^= (byte)(1 << (p / 7 % 8));
                }
                PropertyRun.WithFile(_dir, ".parquet", damaged, path =>
                {
                    PropertyRun.Outcome(path, () => TextCorpus.Read(path));
                    PropertyRun.Outcome(path, () => QaCorpus.Read(path));
                });
            }
        }, iter: 150, Seed);
}
