using Alora.Lora;
using Alora.Methods;
using Alora.Recipes;
using Alora.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Alora.Tests.Methods;

[Collection(TorchRngCollection.Name)]
public class EwcRegularizerTests
{
    static DiagonalFisher RandomFisher(IReadOnlyList<AdaptedModule> adapters, ScalarType dtype, long seed = 4)
    {
        random.manual_seed(seed);
        return new DiagonalFisher(adapters.ToDictionary(a => a.Path, a => rand([a.Layer.OutFeatures, a.Layer.InFeatures], dtype)), new FisherInfo());
    }

    static double[] Values(Tensor t) => EwcPenaltyChecks.Values(t);

    // P = lambda sum F D^2, dP/dA = s B^T (2 lambda F*D), dP/dB = s (2 lambda F*D) A^T, by loops in doubles
    // over float64 tensors (tolerance 1e-10 relative), and central differences (h = 1e-5, 1e-7 relative).
    [Fact]
    public void PenaltyAndGradientsMatchHandComputationAndFiniteDifferences()
    {
        using var model = TinyModels.Llama(hidden: 16, layers: 1);
        var adapters = LoraInjector.Inject(model, new LoraConfig { R = 3, Alpha = 6 });
        model.to(ScalarType.Float64);
        using (no_grad())
            foreach (var a in adapters)
                a.Layer.lora_B.weight.normal_(0, 0.3);
        Assert.All(adapters, a => Assert.Equal(ScalarType.Float64, a.Layer.lora_A.weight.dtype));
        const double lambda = 0.7;
        using var fisher = RandomFisher(adapters, ScalarType.Float64);
        using var ewc = new EwcRegularizer(fisher, adapters, lambda);

        double expected = 0;
        var gradA = new List<double[]>();
        var gradB = new List<double[]>();
        foreach (var a in adapters)
        {
            int r = a.Layer.Rank,
                o = (int)a.Layer.OutFeatures,
                n = (int)a.Layer.InFeatures;
            double s = a.Layer.Scaling;
            var A = Values(a.Layer.lora_A.weight);
            var B = Values(a.Layer.lora_B.weight);
            var F = Values(fisher.Values[a.Path]);
            var G = new double[o * n]; // dP/dD = 2 lambda F D
            for (int i = 0; i < o; i++)
            for (int j = 0; j < n; j++)
            {
                double d = 0;
                for (int k = 0; k < r; k++)
                    d += s * B[i * r + k] * A[k * n + j];
                expected += lambda * F[i * n + j] * d * d;
                G[i * n + j] = 2 * lambda * F[i * n + j] * d;
            }
            var gA = new double[r * n];
            var gB = new double[o * r];
            for (int k = 0; k < r; k++)
            for (int j = 0; j < n; j++)
            for (int i = 0; i < o; i++)
                gA[k * n + j] += s * B[i * r + k] * G[i * n + j];
            for (int i = 0; i < o; i++)
            for (int k = 0; k < r; k++)
            for (int j = 0; j < n; j++)
                gB[i * r + k] += s * G[i * n + j] * A[k * n + j];
            gradA.Add(gA);
            gradB.Add(gB);
        }

        EwcPenaltyChecks.ValueAndGradients(ewc, adapters, expected, gradA, gradB);
    }

    static TrainConfig Config =>
        new()
        {
            Lr = 1e-2,
            MaxSteps = 25,
            BatchSize = 4,
            MicroBatchSize = 2,
            MaxLength = 12,
            Seed = 3,
            CheckpointEvery = 0,
        };

    /// <summary>
    /// Trains a fresh adapter on the pattern data with an EWC hook of strength lambda (none when null), with
    /// the estimated Fisher of the base model or F = 1; returns A and B of every module and sum_m ||D_m||^2.
    /// </summary>
    static (float[][] Bits, double DeltaNorm2) Train(double? lambda, bool uniformFisher)
    {
        using var model = TinyModels.Llama(hidden: 16, layers: 1);
        var data = TinyModels.PatternData(16, 12);
        random.manual_seed(17);
        var adapters = LoraInjector.Inject(model, new LoraConfig { R = 2, Alpha = 4 });
        using var fisher = uniformFisher // estimated with B = 0: the base model's Fisher
            ? new DiagonalFisher(adapters.ToDictionary(a => a.Path, a => ones(a.Layer.OutFeatures, a.Layer.InFeatures)), new FisherInfo())
            : FisherEstimator.Estimate(model, data, new FisherOptions { Samples = 8, MaxLength = 12 });
        var hooks = lambda is { } l ? new List<ITrainingHook> { new EwcRegularizer(fisher, adapters, l) } : [];
        try
        {
            using var trainer = new Trainer(model, adapters, data, Config, hooks: hooks);
            var history = trainer.Train();
            if (lambda is not null)
                Assert.All(history, m => Assert.True(m.Penalties.ContainsKey("ewc_penalty")));
            using var scope = NewDisposeScope();
            double norm2 = adapters.Sum(a => a.Layer.DeltaWeight().square().sum().item<float>());
            return (
                adapters.SelectMany(a => new[] { a.Layer.lora_A.weight, a.Layer.lora_B.weight }).Select(t => t.data<float>().ToArray()).ToArray(),
                norm2
            );
        }
        finally
        {
            foreach (var h in hooks)
                h.Dispose();
        }
    }

    [Fact]
    public void LambdaZeroIsPlainLoraBitForBit()
    {
        var plain = Train(null, uniformFisher: false).Bits;
        var zero = Train(0, uniformFisher: false).Bits;
        for (int i = 0; i < plain.Length; i++)
            Assert.Equal(plain[i], zero[i]);
    }

    [Fact]
    public void AHugeLambdaKeepsTheDeltaNearZero()
    {
        double plain = Train(null, uniformFisher: true).DeltaNorm2;
        double held = Train(1e6, uniformFisher: true).DeltaNorm2;
        Assert.True(plain > 1e-3, $"plain LoRA barely moved: ||D||^2 = {plain}");
        Console.WriteLine($"||D||^2: plain {plain:G3}, lambda 1e6 with F = 1 {held:G3}");
        Assert.True(held < 0.01 * plain, $"||D||^2 {held:G3} with lambda 1e6 vs {plain:G3} without");
        double heldReal = Train(1e6, uniformFisher: false).DeltaNorm2;
        Console.WriteLine($"||D||^2 with the estimated Fisher: {heldReal:G3}");
        Assert.True(heldReal < 0.1 * plain, $"with the estimated Fisher: ||D||^2 {heldReal:G3} vs {plain:G3} without");
    }

    // The hook's tensors survive the scope it was made in, and training with it keeps live tensors flat.
    [Fact]
    public void LiveTensorCountStaysFlatOverTrainingWithThePenalty()
    {
        using var model = TinyModels.Llama(hidden: 16, layers: 1);
        var adapters = LoraInjector.Inject(model, new LoraConfig { R = 2, Alpha = 4 });
        EwcRegularizer ewc;
        using (NewDisposeScope())
        {
            using var fisher = RandomFisher(adapters, ScalarType.Float32);
            ewc = new EwcRegularizer(fisher, adapters, 10);
        }
        using (ewc)
        {
            using var trainer = new Trainer(
                model,
                adapters,
                TinyModels.PatternData(8, 8),
                Config with
                {
                    MaxSteps = 60,
                    BatchSize = 2,
                },
                hooks: [ewc]
            );
            trainer.Train(stopAfter: 10);
            long after10 = DisposeScopeManager.Statistics.TensorStatistics.ThreadTotalLiveCount;
            var history = trainer.Train();
            long after60 = DisposeScopeManager.Statistics.TensorStatistics.ThreadTotalLiveCount;
            Assert.True(after60 - after10 <= 0, $"live tensors grew from {after10} to {after60} over 50 steps");
            Assert.True(history[^1].Penalties["ewc_penalty"] > 0);
        }
    }

    [Fact]
    public void BadFishersAreClearErrors()
    {
        using var tmp = new TempDir();
        using var model = TinyModels.Llama(hidden: 16, layers: 2);
        var data = FisherTests.RandomData(2, 8);
        var o = new FisherOptions { Samples = 2, MaxLength = 8 };
        using var good = FisherEstimator.Estimate(model, data, o);
        var adapters = LoraInjector.Inject(model, new LoraConfig { R = 2 });

        // another model's Fisher: metadata check, and the shape check for files without metadata
        using (var other = TinyModels.Llama(hidden: 32, layers: 2))
        using (var f = FisherEstimator.Estimate(other, data, o))
        {
            var path = tmp.File("other.safetensors");
            f.Save(path);
            using var loaded = DiagonalFisher.Load(path);
            var e = Assert.Throws<AloraException>(() => EwcRegularizer.CheckModel(loaded, model));
            Assert.Contains(path, e.Message);
            Assert.Contains("hidden size 32", e.Message);
            e = Assert.Throws<AloraException>(() => new EwcRegularizer(loaded, adapters, 1));
            Assert.Contains(path, e.Message);
            Assert.Contains("model.layers.0.self_attn.q_proj", e.Message);
            Assert.Contains("[32, 32]", e.Message);
        }

        // a module missing
        using (var qOnly = FisherEstimator.Estimate(model, data, o with { TargetModules = ["q_proj"] }))
        {
            var path = tmp.File("q.safetensors");
            qOnly.Save(path);
            using var loaded = DiagonalFisher.Load(path);
            var e = Assert.Throws<AloraException>(() => new EwcRegularizer(loaded, adapters, 1));
            Assert.Contains(path, e.Message);
            Assert.Contains("no Fisher for module model.layers.0.self_attn.v_proj", e.Message);
        }

        // NaN through the recipe's path (--fisher)
        using (no_grad())
            good.Values["model.layers.1.self_attn.v_proj"].view(-1)[5].fill_(double.NaN);
        var nanPath = tmp.File("nan.safetensors");
        good.Save(nanPath);
        var opts = new FinetuneOptions { Method = FinetuneMethod.EwcLora, Fisher = nanPath };
        IReadOnlyList<ITrainingHook> Hooks(FinetuneOptions o) =>
            MethodRegistry.Get(o.Method).Stages[o.Stage](new MethodContext(o, o.Stage, tmp.Path, model, adapters));
        var nan = Assert.Throws<AloraException>(() => Hooks(opts));
        Assert.Contains(nanPath, nan.Message);
        Assert.Contains("model.layers.1.self_attn.v_proj", nan.Message);
        Assert.Contains("NaN", nan.Message);

        Assert.Contains("needs --fisher", Assert.Throws<AloraException>(() => Hooks(opts with { Fisher = null })).Message);
        Assert.Contains("not found", Assert.Throws<AloraException>(() => Hooks(opts with { Fisher = tmp.File("none.safetensors") })).Message);
        Assert.Contains("--ewc-lambda", Assert.Throws<AloraException>(() => new EwcRegularizer(good, adapters, -1)).Message);
    }
}
