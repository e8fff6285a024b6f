using System.Text.Json.Nodes;
using Alora.IO;
using Alora.Tests.Cli;
using static TorchSharp.torch;

namespace Alora.Tests.Training;

/// <summary>
/// A diverging run stops at its first non-finite quantity with one clear error naming the step and the quantity: the
/// failing step's metrics are in metrics.jsonl (valid JSON), the last checkpoint holds finite weights, no adapter.
/// </summary>
[Collection(TorchRngCollection.Name)]
public class NonFiniteTrainingTests(Xunit.Abstractions.ITestOutputHelper output)
{
    static string[] Train(string model, string data, string run, string lr, params string[] extra) =>
        [
            "train",
            "--model",
            model,
            "--data",
            data,
            "--out",
            run,
            "--max-steps",
            "30",
            "--batch-size",
            "4",
            "--micro-batch-size",
            "4",
            "--max-length",
            "32",
            "--lr",
            lr,
            "--checkpoint-every",
            "1",
            "--warmup-ratio",
            "0",
            "--max-grad-norm",
            "0",
            .. extra,
        ];

    [Fact]
    public void ADivergingRunStopsAtTheFirstNonFiniteQuantityAndKeepsItsLastGoodCheckpoint()
    {
        using var tmp = new TempDir();
        var model = TinyModels.SaveLlama(tmp.File("model"));
        var data = TinyModels.WriteIdsJsonl(tmp.File("data.jsonl"), 16, 32);
        var run = tmp.File("run");
        var (code, _, err) = CliRunner.Run(Train(model, data, run, "1e10", "--optimizer", "sgd"));
        output.WriteLine(err);
        output.WriteLine(File.ReadLines(Path.Combine(run, "metrics.jsonl")).Last());
        Assert.Equal(1, code);
        Assert.StartsWith("error: step ", err);
        Assert.Matches("(loss|gradient norm|update made .*) (is|non-finite)", err);
        Assert.Contains("no adapter was written", err);
        Assert.False(File.Exists(Path.Combine(run, "adapter_model.safetensors")));
        Assert.False(File.Exists(Path.Combine(run, "summary.json")));

        // every line is JSON; the last is the failing step, with its non-finite number spelled as a string
        var lines = File.ReadAllLines(Path.Combine(run, "metrics.jsonl")).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
        var failed = lines[^1];
        long failedStep = failed["step"]!.GetValue<long>();
        Assert.Contains($"step {failedStep}:", err);
        bool spelled = failed.Any(kv => kv.Value is JsonValue j && j.TryGetValue<string>(out var s) && s is "NaN" or "Infinity" or "-Infinity");
        Assert.True(spelled || err.Contains("update made", StringComparison.Ordinal), failed.ToJsonString()); // else the parameters went first

        // the checkpoints on disk are all from earlier steps, with finite weights
        var checkpoints = Directory.GetDirectories(Path.Combine(run, "checkpoints"));
        Assert.NotEmpty(checkpoints);
        foreach (var c in checkpoints)
        {
            Assert.True(long.Parse(Path.GetFileName(c)["step-".Length..], System.Globalization.CultureInfo.InvariantCulture) < failedStep, c);
            var f = SafeTensorsFile.Open(Path.Combine(c, "trainable.safetensors"));
            foreach (var name in f.Entries.Keys)
            {
                using var t = f.Load(name);
                Assert.True(t.isfinite().all().item<bool>(), $"{c}: {name}");
            }
        }
        Assert.Contains($"step-{failedStep - 1:D7}", err);
    }

    [Fact]
    public void AnLrWhoseUpdateOverflowsFloat32IsAClearErrorAtTheFirstStep()
    {
        using var tmp = new TempDir();
        var model = TinyModels.SaveLlama(tmp.File("model"));
        var data = TinyModels.WriteIdsJsonl(tmp.File("data.jsonl"), 16, 32);
        var (code, _, err) = CliRunner.Run(Train(model, data, tmp.File("run"), "1e300"));
        Assert.Equal(1, code);
        Assert.StartsWith("error: step 1: the AdamW step size", err);
        Assert.Contains("overflows Float32", err);
        Assert.Contains("no checkpoint had been saved", err);
    }
}
