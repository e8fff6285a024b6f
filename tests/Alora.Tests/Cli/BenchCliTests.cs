using System.Text.Json.Nodes;

namespace Alora.Tests.Cli;

/// <summary>A smoke test only: the benchmark runs end to end on a tiny shape and writes every key. Its numbers are not checked.</summary>
public class BenchCliTests
{
    [Fact]
    public void BenchImportanceOnATinyShapeWritesEveryKey()
    {
        using var tmp = new TempDir();
        var path = tmp.File("bench.json");
        var (code, stdout, err) = CliRunner.Run(
            "bench",
            "importance",
            "--vocab",
            "64",
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
            "--seq",
            "16",
            "--batch",
            "2",
            "--rank",
            "4",
            "--rounds",
            "1",
            "--steps-per-round",
            "1",
            "--hook-repeats",
            "2",
            "--fisher-samples",
            "2",
            "--out",
            path
        );
        Assert.True(code == 0, err);
        Assert.Contains("fisher_over_si_overhead", stdout);
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        foreach (
            var k in new[]
            {
                "lora_tokens_per_second",
                "si_step_ratio",
                "si_exact_step_ratio",
                "reg_step_ratio",
                "si_ms_per_step",
                "si_exact_ms_per_step",
                "reg_ms_per_step",
                "fisher_over_si_overhead",
                "omega_over_full_fisher_bytes_fp32",
                "omega_over_full_fisher_bytes_fp16",
                "shape",
                "rounds",
                "torch_threads",
                "machine",
                "date",
                "targets",
                "per_round",
            }
        )
            Assert.True(json.ContainsKey(k), k);
        Assert.Equal(32, json["shape"]!["hidden"]!.GetValue<int>());
        Assert.Single(json["per_round"]!.AsArray());
        // Omega of q and v against a Fisher of every parameter: the byte ratio is exact arithmetic
        long omega = json["omega_bytes_fp32"]!.GetValue<long>(),
            full = json["full_fisher_bytes_fp32"]!.GetValue<long>();
        Assert.Equal(2 * (32 * 32 + 16 * 32) * 4, omega);
        Assert.Equal((double)omega / full, json["omega_over_full_fisher_bytes_fp32"]!.GetValue<double>(), 4);
    }

    [Fact]
    public void BenchImportanceRejectsABadShape()
    {
        var (code, _, err) = CliRunner.Run("bench", "importance", "--hidden", "30", "--heads", "4", "--rounds", "1");
        Assert.Equal(1, code);
        Assert.Contains("--hidden 30 is not a multiple of --heads 4", err);
    }
}
