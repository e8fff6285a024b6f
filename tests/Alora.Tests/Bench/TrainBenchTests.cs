using Alora.Bench;
using Alora.Lora;
using Alora.Models;
using static TorchSharp.torch;

namespace Alora.Tests.Bench;

/// <summary>The model FLOPs of <c>alora bench train</c> against hand counts, and one shape measured in-process.</summary>
public class TrainBenchTests
{
    // vocab 10, hidden C 4, 1 layer, 2 heads (D 2), 1 kv head (k and v 2 wide), intermediate 6, seq 3, batch 2, r 2
    static readonly TrainBenchShape Hand = new("hand", 10, 4, 1, 2, 1, 6, 3, 2, 1);

    [Fact]
    public void TheFlopsOfATinyShapeAreTheHandCount()
    {
        // N = 2*3 = 6 tokens
        // W = q 4x4 + o 4x4 + k 2x4 + v 2x4 + gate, up, down 3 * 4x6 + lm_head 10x4 = 16+16+8+8+72+40 = 160
        // P = q: A 2x4 + B 4x2 = 16; v: A 2x4 + B 2x2 = 12; 28
        // A = QK^T and PV, each 2 * B*H*T*T*D = 2*2*2*3*3*2 = 144: 288
        // forward  = 2*6*(160+28) + 288           = 2256 + 288       = 2544
        // backward = 2*6*(160+28) + 2*6*28 + 2*288 = 2256 + 336 + 576 = 3168
        var f = TrainFlops.Of(Hand, rank: 2);
        Assert.Equal(6, f.Tokens);
        Assert.Equal(160, f.BaseWeights);
        Assert.Equal(28, f.LoraParameters);
        Assert.Equal(288, f.Attention);
        Assert.Equal(2544, f.Forward);
        Assert.Equal(3168, f.Backward);
        Assert.Equal(5712, f.Total);
    }

    [Fact]
    public void TinyLlamasMatmulWeightsAreItsParametersLessEmbeddingAndNorms()
    {
        // TinyLlama-1.1B has 1,100,048,384 parameters: less the embedding 32000x2048 and 22*2+1 norms of 2048
        var f = TrainFlops.Of(TrainBenchShape.Named("tinyllama-1.1b"), TrainBench.Rank);
        Assert.Equal(1_100_048_384L - 32000L * 2048 - 45L * 2048, f.BaseWeights);
        // q: 8*(2048+2048), v: 8*(2048+256) per layer
        Assert.Equal(22L * (8 * 4096 + 8 * 2304), f.LoraParameters);
    }

    [Fact]
    public void TheCountedWeightsAreTheModelsOwn()
    {
        var shape = new TrainBenchShape("check", 50, 32, 2, 4, 2, 40, 8, 2, 1);
        using var model = new LlamaForCausalLM(shape.ModelConfig());
        var adapters = LoraInjector.Inject(model, new LoraConfig { R = 4, Alpha = 8 });
        long lora = adapters.Sum(a => a.Layer.lora_A.weight.numel() + a.Layer.lora_B.weight.numel());
        long matmul = model
            .named_parameters()
            .Where(p => !p.name.Contains("lora_", StringComparison.Ordinal) && !p.name.Contains("norm", StringComparison.Ordinal))
            .Where(p => !p.name.Contains("embed_tokens", StringComparison.Ordinal))
            .Sum(p => p.parameter.numel());
        var f = TrainFlops.Of(shape, rank: 4);
        Assert.Equal(matmul, f.BaseWeights);
        Assert.Equal(lora, f.LoraParameters);
    }

    [Fact]
    public void OneTinyShapeIsMeasuredAndRoundTripsThroughItsJson()
    {
        var shape = new TrainBenchShape("tiny", 64, 32, 2, 4, 2, 48, 16, 2, 1);
        int threadsBefore = get_num_threads();
        var r = TrainBench.RunShape(shape, steps: 3, warmup: 1);
        Assert.Equal(threadsBefore, get_num_threads());
        Assert.Equal(3, r.Steps);
        Assert.All(r.StepMs, ms => Assert.True(ms > 0));
        Assert.InRange(r.MinMs, 0, r.MedianMs);
        Assert.True(r.PeakRssBytes > 0);
        Assert.True(r.SgemmGflops > 0 && double.IsFinite(r.SgemmGflops));
        Assert.True(r.Mfu > 0 && double.IsFinite(r.Mfu));
        Assert.Equal(1, r.TorchThreads);
        Assert.Equal(TrainFlops.Of(shape, TrainBench.Rank).LoraParameters, r.LoraParameters);
        Assert.InRange(r.Loss, Math.Log(64) - 0.5, Math.Log(64) + 0.5); // random tokens: about ln(vocab)

        var back = TrainBenchShapeResult.FromJson(r.ToJson());
        Assert.Equal(r.Shape, back.Shape);
        Assert.Equal(r.Flops, back.Flops);
        Assert.Equal(r.PeakRssBytes, back.PeakRssBytes);
        Assert.Equal(r.MedianMs, back.MedianMs, 2);
        // step_ms is written to 0.01 ms: the median moves by 0.005 ms at most, tokens/s by that share of the step
        Assert.Equal(r.TokensPerSecond, back.TokensPerSecond, r.TokensPerSecond * 0.0051 / Math.Min(r.MedianMs, back.MedianMs));
    }

    [Fact]
    public void AnUnknownShapeNamesTheShapes()
    {
        var e = Assert.Throws<AloraException>(() => TrainBenchShape.Parse("demo,huge"));
        Assert.Equal("unknown shape 'huge': the shapes are demo, default-1t, default-2t, wide, tinyllama-1.1b", e.Message);
        Assert.Equal(["wide", "demo"], TrainBenchShape.Parse(" wide,demo,wide ").Select(s => s.Name));
    }
}
