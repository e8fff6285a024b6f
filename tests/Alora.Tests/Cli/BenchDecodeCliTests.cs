using System.Text.Json.Nodes;

namespace Alora.Tests.Cli;

/// <summary>
/// `bench decode` end to end on a tiny model. The bench itself fails unless the shared-context scorer agrees with a
/// row per choice (1e-4) and cached decoding chooses the tokens of re-reading the prefix; the speed is not checked.
/// </summary>
public class BenchDecodeCliTests
{
    [Fact]
    public void BenchDecodeOnATinyModelAgreesWithTheOldAlgorithmsAndWritesEveryKey()
    {
        using var tmp = new TempDir();
        var path = tmp.File("decode.json");
        var (code, _, err) = CliRunner.Run(
            "bench",
            "decode",
            "--vocab",
            "300",
            "--hidden",
            "32",
            "--layers",
            "2",
            "--heads",
            "4",
            "--kv-heads",
            "2",
            "--intermediate",
            "48",
            "--items",
            "5",
            "--batch",
            "2",
            "--new-tokens",
            "12",
            "--rounds",
            "1",
            "--out",
            path
        );
        Assert.True(code == 0, err);
        var j = JsonNode.Parse(File.ReadAllText(path))!;
        Assert.Equal(300, j["model"]!["vocab"]!.GetValue<int>());
        foreach (var task in new[] { "sciq", "medmcqa" })
        {
            Assert.Equal(20, j[task]!["requests"]!.GetValue<int>()); // 5 items x 4 choices
            Assert.InRange(j[task]!["max_abs_difference"]!.GetValue<double>(), 0, 1e-4);
            Assert.True(j[task]!["speedup"]!.GetValue<double>() > 0);
        }
        Assert.Equal(12, j["generate"]!["new_tokens"]!.GetValue<int>());
        Assert.True(j["generate"]!["cached_tokens_per_second"]!.GetValue<double>() > 0);
    }

    [Fact]
    public void HeadsThatDoNotGroupOverKvHeadsAreRefused()
    {
        var (code, _, err) = CliRunner.Run("bench", "decode", "--heads", "8", "--kv-heads", "3");
        Assert.Equal(1, code);
        Assert.Contains("--heads 8 must be a multiple of --kv-heads 3", err, StringComparison.Ordinal);
    }
}
