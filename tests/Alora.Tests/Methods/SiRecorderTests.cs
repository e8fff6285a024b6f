using Alora.Data;
using Alora.Lora;
using Alora.Methods;
using Alora.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Alora.Tests.Methods;

public class SiRecorderTests
{
    // One module y = W0 x + s B (A x), in = 3, out = 2, r = 1, s = 2; loss 0.5 ||y - t||^2; one SGD step.
    static readonly double[,] W0 =
    {
        { 0.5, -0.2, 0.1 },
        { 0.3, 0.8, -0.4 },
    };
    static readonly double[] A0 =  { 0.7, -0.3, 0.2 },
        B0 =  { 0.4, -0.6 },
        X =  { 1.0, 2.0, -1.0 },
        T =  { 0.3, -0.2 };
    const double S = 2.0,
        Eta = 0.1;

    /// <summary>The same quantities by hand, in double precision, from the formulas: omega += -g~ * dD per step (g~ the paper's eq. 13 gradient, or dL/dW for exact), Omega = max(omega, 0) / (Delta^2 + xi).</summary>
    static (double[,] OmegaPaper, double[,] OmegaExact, double[,] Delta) ByHand()
    {
        double ax = A0[0] * X[0] + A0[1] * X[1] + A0[2] * X[2];
        var e = new double[2];
        for (int o = 0; o < 2; o++)
            e[o] = W0[o, 0] * X[0] + W0[o, 1] * X[1] + W0[o, 2] * X[2] + S * B0[o] * ax - T[o];
        var gB = new[] { S * e[0] * ax, S * e[1] * ax }; // dL/dB = s e (Ax)^T
        double bte = B0[0] * e[0] + B0[1] * e[1];
        var gA = new[] { S * bte * X[0], S * bte * X[1], S * bte * X[2] }; // dL/dA = s (B^T e) x^T
        var a1 = A0.Select((a, i) => a - Eta * gA[i]).ToArray();
        var b1 = B0.Select((b, i) => b - Eta * gB[i]).ToArray();
        var paper = new double[2, 3];
        var exact = new double[2, 3];
        var delta = new double[2, 3];
        for (int o = 0; o < 2; o++)
        for (int i = 0; i < 3; i++)
        {
            double theta = S * (b1[o] * a1[i] - B0[o] * A0[i]); // D(t+1) - D(t)
            double gTilde = S * (gB[o] * A0[i] + B0[o] * gA[i] - Eta * gB[o] * gA[i]); // eq. 13
            double g = e[o] * X[i]; // dL/dW
            paper[o, i] = -gTilde * theta;
            exact[o, i] = -g * theta;
            delta[o, i] = theta;
        }
        return (paper, exact, delta);
    }

    static (LoraLinear Layer, IReadOnlyList<AdaptedModule> Adapters) OneModule()
    {
        var lin = new Alora.Models.Linear(3, 2, false);
        using (no_grad())
            lin.weight.copy_(tensor(W0.Cast<double>().Select(v => (float)v).ToArray(), [2, 3]));
        var layer = new LoraLinear(lin, 1, S, 0);
        using (no_grad())
        {
            layer.lora_A.weight.copy_(tensor(A0.Select(v => (float)v).ToArray(), [1, 3]));
            layer.lora_B.weight.copy_(tensor(B0.Select(v => (float)v).ToArray(), [2, 1]));
        }
        lin.weight.requires_grad = false;
        return (layer, [new AdaptedModule("m", layer)]);
    }

    [Theory]
    [InlineData(SiVariant.Paper)]
    [InlineData(SiVariant.Exact)]
    public void OneStepOmegaAndOmegaBigMatchTheHandComputation(SiVariant variant)
    {
        var (expectedPaper, expectedExact, delta) = ByHand();
        var expected = variant == SiVariant.Paper ? expectedPaper : expectedExact;
        var (layer, adapters) = OneModule();
        using var dir = new TempDir();
        using var rec = new SiRecorder(adapters, variant, xi: 0.1, clamp: false, dir.File("imp.safetensors"));
        var ctx = new StepContext
        {
            Adapters = adapters,
            Lr = Eta,
            Tokens = 1,
        };
        using (var y = layer.forward(tensor(X.Select(v => (float)v).ToArray(), [1, 3])))
        using (var loss = (y - tensor(T.Select(v => (float)v).ToArray(), [1, 2])).square().sum() * 0.5)
            loss.backward();
        rec.OnTaskGradients(ctx);
        using var sgd = new Sgd([("A", layer.lora_A.weight), ("B", layer.lora_B.weight)]);
        sgd.Step(Eta);
        rec.AfterOptimizerStep(ctx);
        var omega = rec.Omega[0].data<float>().ToArray();
        using var imp = rec.Finish();
        var big = imp.Omega["m"].data<float>().ToArray();
        for (int o = 0; o < 2; o++)
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(expected[o, i], omega[o * 3 + i], 5);
            Assert.Equal(expected[o, i] / (delta[o, i] * delta[o, i] + 0.1), big[o * 3 + i], 4); // Omega = omega / (Delta^2 + xi)
        }
        if (variant == SiVariant.Paper) // under SGD each paper-variant element is (change of D)^2 / eta >= 0
            for (int o = 0; o < 2; o++)
            for (int i = 0; i < 3; i++)
                Assert.Equal(delta[o, i] * delta[o, i] / Eta, expected[o, i], 9);
        layer.Dispose();
    }

    // The Synaptic-Intelligence identity: with plain SGD, the full batch and a small step, the exact
    // variant's sum of omega over all elements equals the loss drop L(start) - L(end) to first order.
    [Fact]
    public void ExactVariantSumOfOmegaEqualsTheLossDrop()
    {
        using var model = TinyModels.Llama();
        random.manual_seed(1);
        var adapters = LoraInjector.Inject(
            model,
            new LoraConfig
            {
                R = 4,
                Alpha = 8,
                TargetModules = ["q_proj", "v_proj", "o_proj"],
            }
        );
        var data = TinyModels.PatternData(8, 12);
        var cfg = new TrainConfig
        {
            Optimizer = OptimizerKind.Sgd,
            Lr = 0.005,
            MaxSteps = 200,
            BatchSize = 8,
            MicroBatchSize = 8,
            MaxLength = 12,
            Schedule = LrSchedule.Constant,
            MaxGradNorm = 0,
            CheckpointEvery = 0,
        };
        using var dir = new TempDir();
        using var rec = new SiRecorder(adapters, SiVariant.Exact, 1e-3, clamp: false, dir.File("imp.safetensors"));
        double before = FullBatchLoss(model, data);
        using (var trainer = new Trainer(model, adapters, data, cfg, hooks: [rec]))
            trainer.Train();
        double after = FullBatchLoss(model, data);
        double sumOmega = rec.Omega.Sum(o => o.sum().item<float>());
        double drop = before - after;
        Assert.True(drop > 0.2, $"the loss must drop measurably ({before:F4} -> {after:F4})");
        Assert.True(Math.Abs(sumOmega - drop) <= 0.05 * drop, $"sum(omega) {sumOmega:F5} vs loss drop {drop:F5}");
    }

    static double FullBatchLoss(Alora.Models.CausalLM model, List<TrainingExample> data)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var ids = tensor(data.SelectMany(d => d.Ids.Select(i => (long)i)).ToArray(), [data.Count, data[0].Ids.Length]);
        var logits = model.forward(ids);
        return nn.functional.cross_entropy(logits[.., ..^1].reshape(-1, logits.shape[2]), ids[.., 1..].reshape(-1)).item<float>();
    }

    [Fact]
    public void ImportanceFileReloadsBitExactAndHalvesInFloat16()
    {
        using var model = TinyModels.Llama();
        var adapters = LoraInjector.Inject(model, new LoraConfig { R = 2, Alpha = 4 });
        using var dir = new TempDir();
        using var rec = new SiRecorder(adapters, SiVariant.Paper, 1e-3, clamp: true, dir.File("a.safetensors"));
        using (
            var trainer = new Trainer(
                model,
                adapters,
                TinyModels.PatternData(8, 12),
                new TrainConfig
                {
                    MaxSteps = 5,
                    BatchSize = 4,
                    MicroBatchSize = 4,
                    MaxLength = 12,
                    Lr = 1e-2,
                    CheckpointEvery = 0,
                },
                hooks: [rec]
            )
        )
            trainer.Train();
        using var imp = rec.Finish();
        imp.Save(dir.File("f32.safetensors"));
        imp.Save(dir.File("f16.safetensors"), ScalarType.Float16);
        using var back = ImportanceFile.Load(dir.File("f32.safetensors"));
        foreach (var m in imp.Modules)
        {
            Assert.Equal(imp.Omega[m].data<float>().ToArray(), back.Omega[m].data<float>().ToArray());
            Assert.Equal(imp.A[m].data<float>().ToArray(), back.A[m].data<float>().ToArray());
            Assert.True(imp.Omega[m].min().item<float>() >= 0, "clamped at 0");
        }
        Assert.Equal("paper", back.Variant);
        Assert.Equal("5", back.Metadata["steps"]);
        long omegaBytes32 = imp.OmegaElements * 4,
            omegaBytes16 = imp.OmegaElements * 2;
        Assert.Equal(
            new FileInfo(dir.File("f32.safetensors")).Length - omegaBytes32 + omegaBytes16,
            new FileInfo(dir.File("f16.safetensors")).Length,
            64.0
        );
        using var half = ImportanceFile.Load(dir.File("f16.safetensors"));
        Assert.Equal("float16", half.Metadata["dtype"]);
    }

    [Fact]
    public void NanInOmegaAndOtherModulesAreClearErrors()
    {
        using var model = TinyModels.Llama();
        var adapters = LoraInjector.Inject(model, new LoraConfig { R = 2, Alpha = 4 });
        using var dir = new TempDir();
        using var rec = new SiRecorder(adapters, SiVariant.Paper, 1e-3, true, dir.File("a.safetensors"));
        using var imp = rec.Finish();
        using (no_grad())
            imp.Omega[imp.Modules[0]][0, 0] = float.NaN;
        imp.Save(dir.File("nan.safetensors"));
        Assert.Contains("NaN", Assert.Throws<AloraException>(() => ImportanceFile.Load(dir.File("nan.safetensors"))).Message);

        using (no_grad())
            imp.Omega[imp.Modules[0]][0, 0] = 1f;
        imp.Save(dir.File("ok.safetensors"));
        using var ok = ImportanceFile.Load(dir.File("ok.safetensors"));
        using var other = TinyModels.Llama();
        var otherAdapters = LoraInjector.Inject(
            other,
            new LoraConfig
            {
                R = 2,
                Alpha = 4,
                TargetModules = ["k_proj", "v_proj"],
            }
        );
        Assert.Contains("other modules", Assert.Throws<AloraException>(() => ok.Validate(otherAdapters, "ok.safetensors")).Message);
        using var wider = TinyModels.Llama(hidden: 48);
        var widerAdapters = LoraInjector.Inject(wider, new LoraConfig { R = 2, Alpha = 4 });
        Assert.Contains("another model", Assert.Throws<AloraException>(() => ok.Validate(widerAdapters, "ok.safetensors")).Message);
    }
}
