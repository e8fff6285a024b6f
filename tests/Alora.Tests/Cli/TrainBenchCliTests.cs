using System.Text.Json.Nodes;

namespace Alora.Tests.Cli;

/// <summary>
/// alora bench train end to end: the parent runs the demo shape in a child process of the CLI and writes every field.
/// Its numbers are not checked, only that they are there, positive and finite. The PyTorch script is not needed.
/// </summary>
public class TrainBenchCliTests
{
    [Fact]
    public void TheDemoShapeRunsInAChildAndWritesEveryField()
    {
        using var tmp = new TempDir();
        var path = tmp.File("train.json");
        var (code, stdout, err) = CliRunner.Run("bench", "train", "--shapes", "demo", "--steps", "1", "--warmup", "1", "--out", path);
        Assert.True(code == 0, err);
        Assert.Contains("demo", stdout);
        Assert.Contains("MFU", stdout);
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        Assert.Equal("train", json["benchmark"]!.GetValue<string>());
        Assert.Contains("4*N*W + 6*N*P + 3*A", json["model_flops_formula"]!.GetValue<string>(), StringComparison.Ordinal);
        var shape = Assert.Single(json["shapes"]!.AsArray())!.AsObject();
        Assert.Equal("demo", shape["name"]!.GetValue<string>());
        Assert.Equal(128, shape["shape"]!["hidden"]!.GetValue<int>());
        Assert.Equal(1, shape["steps"]!.GetValue<int>());
        Assert.Equal(16L * 128, shape["tokens_per_step"]!.GetValue<long>());
        foreach (
            var k in new[]
            {
                "tokens_per_second",
                "ms_per_step_median",
                "ms_per_step_min",
                "peak_rss_bytes",
                "model_flops_per_step",
                "achieved_gflops",
                "sgemm_peak_gflops",
                "mfu",
                "parameters",
                "lora_parameters",
                "loss",
            }
        )
        {
            var v = shape[k]?.GetValue<double>();
            Assert.True(v is > 0 && double.IsFinite(v.Value), $"{k} = {v}");
        }
        // the child's own process: at least the model and the .NET runtime, not the test host's many hundred MB of fixtures
        Assert.True(shape["peak_rss_bytes"]!.GetValue<long>() > 20 << 20);
        Assert.False(shape.ContainsKey("pytorch"));
    }

    [Fact]
    public void AnUnknownShapeIsAnErrorListingTheShapes()
    {
        var (code, _, err) = CliRunner.Run("bench", "train", "--shapes", "demo,huge");
        Assert.Equal(1, code);
        Assert.Contains("unknown shape 'huge': the shapes are demo, default-1t, default-2t, wide, tinyllama-1.1b", err);
    }

    [Fact]
    public void PyTorchWithoutAnInterpreterNamesIt()
    {
        var (code, _, err) = CliRunner.Run("bench", "train", "--shapes", "demo", "--pytorch", "--python", "/nonexistent/python3");
        Assert.Equal(1, code);
        Assert.Contains("--pytorch needs a Python interpreter with torch: cannot start /nonexistent/python3", err);
    }

    [Fact]
    public void PyTorchWithoutTorchNamesIt()
    {
        // `false -c ...` fails as an interpreter without torch does
        var (code, _, err) = CliRunner.Run("bench", "train", "--shapes", "demo", "--pytorch", "--python", "false");
        Assert.Equal(1, code);
        Assert.Contains("--pytorch needs PyTorch, and false cannot import torch", err);
    }
}
