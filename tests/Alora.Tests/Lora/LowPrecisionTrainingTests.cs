using System.Text.Json.Nodes;
using Alora.IO;
using Alora.Lora;
using Alora.Tests.Cli;
using TorchSharp;
using static TorchSharp.torch;

namespace Alora.Tests.Lora;

/// <summary>
/// Training a bfloat16 or float16 model: the LoRA factors stay float32 (PEFT's autocast_adapter_dtype), the branch
/// computes in float32, and only the sum is rounded to the model's dtype.
/// </summary>
[Collection(TorchRngCollection.Name)]
public class LowPrecisionTrainingTests
{
    [Theory]
    [InlineData("bfloat16")]
    [InlineData("float16")]
    public void TrainingAHalfPrecisionModelLowersTheLossAndWritesAFloat32Adapter(string dtype)
    {
        using var tmp = new TempDir();
        var model = TinyModels.SaveLlama(tmp.File("model"));
        var data = TinyModels.WriteIdsJsonl(tmp.File("data.jsonl"), 16, 32);
        var run = tmp.File("run");
        var (code, _, err) = CliRunner.Run(
            "train",
            "--model",
            model,
            "--data",
            data,
            "--out",
            run,
            "--dtype",
            dtype,
            "--max-steps",
            "25",
            "--batch-size",
            "4",
            "--micro-batch-size",
            "4",
            "--max-length",
            "32",
            "--lr",
            "0.02",
            "--dropout",
            "0",
            "--warmup-ratio",
            "0",
            "--target-modules",
            "q_proj,v_proj,o_proj,gate_proj,up_proj,down_proj"
        );
        Assert.True(code == 0, err);
        var losses = File.ReadAllLines(Path.Combine(run, "metrics.jsonl")).Select(l => JsonNode.Parse(l)!["task_loss"]!.GetValue<double>()).ToList();
        Assert.True(losses.TakeLast(3).Average() < 0.8 * losses.Take(3).Average(), $"loss {losses[0]:F3} -> {losses[^1]:F3}");
        var adapter = SafeTensorsFile.Open(Path.Combine(run, "adapter_model.safetensors"));
        Assert.All(adapter.Entries.Values, e => Assert.Equal("F32", e.DType));

        // the trained adapter evaluates in the same dtype
        var (c2, _, e2) = CliRunner.Run(
            "eval",
            "perplexity",
            "--model",
            model,
            "--adapter",
            run,
            "--dtype",
            dtype,
            "--data",
            data,
            "--max-length",
            "32"
        );
        Assert.True(c2 == 0, e2);
    }

    /// <summary>y = bf16( bf16_linear(x) + s * B (A x) ) with the branch in float32, computed here from the formula.</summary>
    [Fact]
    public void TheBranchOfABfloat16LayerIsComputedInFloat32AndRoundedOnce()
    {
        random.manual_seed(4);
        var baseLayer = new Alora.Models.Linear(8, 6, hasBias: false);
        using (no_grad())
            baseLayer.weight.copy_(randn(6, 8).to_type(ScalarType.BFloat16).to_type(ScalarType.Float32));
        baseLayer.to(ScalarType.BFloat16);
        using var lora = new LoraLinear(baseLayer, rank: 2, scaling: 0.75, dropout: 0);
        using (no_grad())
            lora.lora_B.weight.copy_(randn(6, 2));
        Assert.Equal(ScalarType.Float32, lora.lora_A.weight.dtype);
        using var x = randn(3, 8).to_type(ScalarType.BFloat16);
        using var y = lora.forward(x);
        Assert.Equal(ScalarType.BFloat16, y.dtype);

        using var xf = x.to_type(ScalarType.Float32);
        using var baseOut = xf.matmul(baseLayer.weight.to_type(ScalarType.Float32).t()).to_type(ScalarType.BFloat16).to_type(ScalarType.Float32);
        using var branch = xf.matmul(lora.lora_A.weight.t()).matmul(lora.lora_B.weight.t()) * 0.75;
        using var expected = (baseOut + branch).to_type(ScalarType.BFloat16);
        Assert.Equal(expected.to_type(ScalarType.Float32).data<float>().ToArray(), y.to_type(ScalarType.Float32).data<float>().ToArray());
    }
}
