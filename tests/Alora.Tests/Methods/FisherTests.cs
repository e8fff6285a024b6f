using Alora.Data;
using Alora.Lora;
using Alora.Methods;
using Alora.Models;
using Alora.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Alora.Tests.Methods;

public class FisherTests
{
    const int Vocab = 97;

    /// <summary>Random sequences of different lengths; every token but the first is a target.</summary>
    internal static List<TrainingExample> RandomData(int count, int maxLen, long seed = 13)
    {
        var rng = new Random((int)seed);
        return Enumerable
            .Range(0, count)
            .Select(_ =>
            {
                var ids = Enumerable.Range(0, rng.Next(4, maxLen + 1)).Select(_ => rng.Next(3, Vocab)).ToArray();
                return new TrainingExample(ids, ids.Select((_, j) => j > 0).ToArray());
            })
            .ToList();
    }

    static List<(string Path, Parameter W)> Targets(LlamaForCausalLM m) =>
        m
            .model.layers.Select(
                (l, i) =>
                    new[]
                    {
                        ($"model.layers.{i}.self_attn.q_proj", ((Alora.Models.Linear)l.self_attn.q_proj).weight),
                        ($"model.layers.{i}.self_attn.v_proj", ((Alora.Models.Linear)l.self_attn.v_proj).weight),
                    }
            )
            .SelectMany(x => x)
            .ToList();

    /// <summary>Per-sample mean next-token cross-entropy from the full logits [1,T,V] (the path Fisher does not use).</summary>
    static Tensor SampleLoss(LlamaForCausalLM m, TrainingExample ex)
    {
        using var scope = NewDisposeScope();
        var ids = tensor(ex.Ids.Select(t => (long)t).ToArray(), [1, ex.Ids.Length]); // [1,T]
        var logits = m.forward(ids); // [1,T,V]
        return nn.functional.cross_entropy(logits[0, ..^1], ids[0, 1..]).MoveToOuterDisposeScope(); // mean over T-1 targets
    }

    // Reference: for each sample alone, backward of its mean CE into W0.grad, then F = mean of grad^2,
    // accumulated in doubles. Tolerance: float32 rounding of small gradients (1e-5 of the largest F).
    [Fact]
    public void FisherEqualsTheMeanOfSquaredPerSampleGradients()
    {
        using var model = TinyModels.Llama(hidden: 16, layers: 2);
        var data = RandomData(5, 12);
        using var fisher = FisherEstimator.Estimate(model, data, new FisherOptions { Samples = 5, MaxLength = 12 });
        Assert.Equal(5, fisher.Info.Samples);
        Assert.Equal(data.Sum(d => (long)d.TargetCount), fisher.Info.Tokens);

        var targets = Targets(model);
        Assert.Equal(targets.Select(t => t.Path).Order(), fisher.Values.Keys.Order());
        var reference = targets.Select(t => new double[t.W.numel()]).ToList();
        foreach (var p in model.parameters())
            p.requires_grad = false;
        foreach (var (_, w) in targets)
            w.requires_grad = true;
        foreach (var ex in data)
        {
            foreach (var (_, w) in targets)
                w.grad?.zero_();
            using (var loss = SampleLoss(model, ex))
                loss.backward();
            for (int k = 0; k < targets.Count; k++)
            {
                var g = targets[k].W.grad!.data<float>().ToArray();
                for (int i = 0; i < g.Length; i++)
                    reference[k][i] += (double)g[i] * g[i] / data.Count;
            }
        }
        double max = reference.SelectMany(r => r).Max();
        Assert.True(max > 0);
        for (int k = 0; k < targets.Count; k++)
        {
            var f = fisher.Values[targets[k].Path];
            Assert.Equal(targets[k].W.shape, f.shape);
            var got = f.data<float>().ToArray();
            for (int i = 0; i < got.Length; i++)
                Assert.True(Math.Abs(got[i] - reference[k][i]) <= 1e-5 * max, $"{targets[k].Path}[{i}]: {got[i]} vs {reference[k][i]}");
        }
    }

    // Independent of autograd: central differences of each sample's loss w.r.t. two W0 elements
    // (h = 0.02, float32 forward: agreement to 5% of F).
    [Fact]
    public void FisherMatchesFiniteDifferencesOnTwoElements()
    {
        using var model = TinyModels.Llama(hidden: 16, layers: 1);
        var data = RandomData(3, 10, seed: 21);
        using var fisher = FisherEstimator.Estimate(model, data, new FisherOptions { Samples = 3, MaxLength = 10 });
        var (path, w) = Targets(model)[1]; // v_proj of layer 0
        var f = fisher.Values[path].view(-1);
        long top = f.argmax().item<long>();
        foreach (long idx in new[] { top, (top + 37) % f.numel() })
        {
            double expected = 0;
            using var _ = no_grad();
            var flat = w.view(-1);
            float orig = flat[idx].item<float>();
            const float h = 0.02f;
            foreach (var ex in data)
            {
                flat[idx] = orig + h;
                double up;
                using (var l = SampleLoss(model, ex))
                    up = l.item<float>();
                flat[idx] = orig - h;
                double down;
                using (var l = SampleLoss(model, ex))
                    down = l.item<float>();
                flat[idx] = orig;
                double g = (up - down) / (2 * h);
                expected += g * g / data.Count;
            }
            double got = f[idx].item<float>();
            Assert.True(Math.Abs(got - expected) <= 0.05 * expected + 1e-9, $"element {idx}: Fisher {got:G6} vs finite differences {expected:G6}");
        }
    }

    [Fact]
    public void ZeroLoraAdaptersGiveTheBaseFisherAndTrainedOnesAreRefused()
    {
        using var model = TinyModels.Llama(hidden: 16, layers: 1);
        var data = RandomData(3, 8);
        var o = new FisherOptions { Samples = 3, MaxLength = 8 };
        using var plain = FisherEstimator.Estimate(model, data, o);
        var adapters = LoraInjector.Inject(model, new LoraConfig { R = 2, Alpha = 4 });
        using (var withLora = FisherEstimator.Estimate(model, data, o))
            foreach (var (k, v) in plain.Values)
                Assert.Equal(0f, (v - withLora.Values[k]).abs().max().item<float>());
        Assert.All(model.parameters(), p =>
            Assert.Equal(
                p.requires_grad,
                model.named_parameters().First(n => ReferenceEquals(n.parameter, p)).name.Contains("lora_", StringComparison.Ordinal)
            )
        );
        using (no_grad())
            adapters[0].Layer.lora_B.weight.fill_(0.1);
        var e = Assert.Throws<AloraException>(() => FisherEstimator.Estimate(model, data, o));
        Assert.Contains("model.layers.0.self_attn.q_proj", e.Message);
    }

    [Fact]
    public void TheSeedChoosesTheSamplesAndLiveTensorsStayFlat()
    {
        using var model = TinyModels.Llama(hidden: 16, layers: 1);
        var data = RandomData(12, 8);
        FisherOptions O(long seed, int n) =>
            new()
            {
                Samples = n,
                MaxLength = 8,
                Seed = seed,
                TargetModules = ["v_proj"],
            };
        using (var warm = FisherEstimator.Estimate(model, data, O(1, 2))) { }
        long before = DisposeScopeManager.Statistics.TensorStatistics.ThreadTotalLiveCount;
        using (var a = FisherEstimator.Estimate(model, data, O(1, 4)))
        using (var b = FisherEstimator.Estimate(model, data, O(1, 4)))
        using (var c = FisherEstimator.Estimate(model, data, O(2, 4)))
        using (var all = FisherEstimator.Estimate(model, data, O(2, 100)))
        using (NewDisposeScope())
        {
            var key = "model.layers.0.self_attn.v_proj";
            Assert.Equal(0f, (a.Values[key] - b.Values[key]).abs().max().item<float>());
            Assert.True((a.Values[key] - c.Values[key]).abs().max().item<float>() > 0);
            Assert.Equal(12, all.Info.Samples); // capped at the data
            Assert.Single(all.Values);
        }
        long after = DisposeScopeManager.Statistics.TensorStatistics.ThreadTotalLiveCount;
        Assert.True(after - before <= 0, $"live tensors grew from {before} to {after}");
    }

    [Fact]
    public void SaveAndLoadKeepValuesAndMetadata()
    {
        using var tmp = new TempDir();
        using var model = TinyModels.Llama(hidden: 16, layers: 2);
        using var fisher = FisherEstimator.Estimate(
            model,
            RandomData(3, 8),
            new FisherOptions
            {
                Samples = 3,
                MaxLength = 8,
                Seed = 9,
            }
        );
        var path = tmp.File("f.safetensors");
        long bytes = fisher.Save(path);
        Assert.Equal(new FileInfo(path).Length, bytes);
        using var back = DiagonalFisher.Load(path);
        Assert.Equal(fisher.Values.Keys.Order(), back.Values.Keys.Order());
        foreach (var (k, v) in fisher.Values)
            Assert.Equal(0f, (v - back.Values[k]).abs().max().item<float>());
        var meta = IO.SafeTensorsFile.Open(path).Metadata;
        Assert.Equal("ewc-fisher", meta["alora_kind"]);
        Assert.Equal("q_proj,v_proj", meta["target_modules"]);
        Assert.Equal("LlamaForCausalLM", back.Info.Architecture);
        Assert.Equal((3, 8, 9L, 16, 2), (back.Info.Samples, back.Info.MaxLength, back.Info.Seed, back.Info.HiddenSize, back.Info.NumHiddenLayers));
        Assert.Equal(fisher.Info.Seconds, back.Info.Seconds);
    }
}
