using Alora.Data;
using Alora.Lora;
using Alora.Methods;
using Alora.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Alora.Tests.Methods;

public class AloraRegularizerTests
{
    // Norms a few units apart saturate the paper's softmax: 0.02, 12.2, 0.001, 7.8 give 0, 0.988, 0, 0.012 (by hand:
    // e^12.2 / (e^12.2 + e^7.8 + e^0.02 + e^0.001) = 1 / (1 + e^-4.4 + ...) = 0.988).
    [Fact]
    public void LayerWeightsMatchHandComputedSoftmaxAndSumToOne()
    {
        double[] n = [0.02, 12.2, 0.001, 7.8];
        var w = AloraRegularizer.LayerWeights(n, LayerWeighting.Softmax);
        double z = Math.Exp(0.02) + Math.Exp(12.2) + Math.Exp(0.001) + Math.Exp(7.8);
        for (int i = 0; i < 4; i++)
            Assert.Equal(Math.Exp(n[i]) / z, w[i], 12);
        Assert.Equal(0.988, w[1], 3);
        Assert.Equal(0.012, w[3], 3);
        Assert.Equal(1.0, w.Sum(), 12);
        Assert.Equal(new[] { 0.25, 0.25, 0.25, 0.25 }, AloraRegularizer.LayerWeights(n, LayerWeighting.Uniform));
        var log = AloraRegularizer.LayerWeights(n, LayerWeighting.SoftmaxLog);
        for (int i = 0; i < 4; i++)
            Assert.Equal(n[i] / n.Sum(), log[i], 12); // softmax(log n) = n / sum n
        var norm = AloraRegularizer.LayerWeights(n, LayerWeighting.SoftmaxNormalized);
        double mean = n.Average(),
            zn = n.Sum(x => Math.Exp(x / mean));
        for (int i = 0; i < 4; i++)
            Assert.Equal(Math.Exp(n[i] / mean) / zn, norm[i], 12);
        // stable for huge norms (a naive exp overflows)
        var big = AloraRegularizer.LayerWeights([1000, 1001], LayerWeighting.Softmax);
        Assert.Equal(1 / (1 + Math.E), big[0], 12);
    }

    // penalty(A, B) = sum Omega (s B A - s B_nu A_nu)^2, and its gradient, against central finite differences in float64.
    [Fact]
    public void PenaltyAndGradientMatchFiniteDifferences()
    {
        random.manual_seed(5);
        const double s = 1.5;
        using var a = randn(3, 5, ScalarType.Float64).requires_grad_(true);
        using var b = randn(4, 3, ScalarType.Float64).requires_grad_(true);
        using var aNu = randn(3, 5, ScalarType.Float64);
        using var bNu = randn(4, 3, ScalarType.Float64);
        using var omega = rand(4, 5, ScalarType.Float64);
        double Direct()
        {
            using var _ = no_grad();
            using var d = (b.matmul(a) - bNu.matmul(aNu)) * s;
            return (omega * d * d).sum().item<double>();
        }
        using var p = AloraRegularizer.ModulePenalty(a, b, aNu, bNu, omega, s);
        Assert.Equal(Direct(), p.item<double>(), 10);
        p.backward();
        const double h = 1e-6;
        foreach (var (t, idx) in new[] { (a, new long[] { 0, 0 }), (a, new long[] { 2, 4 }), (b, new long[] { 1, 2 }), (b, new long[] { 3, 0 }) })
        {
            double orig = t[idx[0], idx[1]].item<double>();
            using (no_grad())
                t[idx[0], idx[1]] = orig + h;
            double up = Direct();
            using (no_grad())
                t[idx[0], idx[1]] = orig - h;
            double down = Direct();
            using (no_grad())
                t[idx[0], idx[1]] = orig;
            double fd = (up - down) / (2 * h),
                ad = t.grad![idx[0], idx[1]].item<double>();
            Assert.True(Math.Abs(fd - ad) <= 1e-6 * Math.Max(1, Math.Abs(fd)), $"grad {ad} vs finite difference {fd}");
        }
    }

    static (Alora.Models.CausalLM Model, IReadOnlyList<AdaptedModule> Adapters, ImportanceFile Importance, string Path) StageNu(TempDir dir)
    {
        var model = TinyModels.Llama();
        random.manual_seed(2);
        var adapters = LoraInjector.Inject(model, new LoraConfig { R = 4, Alpha = 8 });
        var path = dir.File("imp.safetensors");
        using (var rec = new SiRecorder(adapters, SiVariant.Paper, 1e-3, true, path))
        {
            using (
                var trainer = new Trainer(
                    model,
                    adapters,
                    TinyModels.PatternData(16, 12, seed: 1),
                    new TrainConfig
                    {
                        MaxSteps = 20,
                        BatchSize = 8,
                        MicroBatchSize = 8,
                        MaxLength = 12,
                        Lr = 1e-2,
                        CheckpointEvery = 0,
                    },
                    hooks: [rec]
                )
            )
                trainer.Train();
            rec.WriteArtifacts(dir.Path);
        }
        return (model, adapters, ImportanceFile.Load(path), path);
    }

    internal static Tensor[] DomainStage(TempDir dir, double? phi)
    {
        var (model, adapters, importance, path) = StageNu(dir);
        using (model)
        using (importance)
        {
            var hooks = phi is { } p ? new List<ITrainingHook> { new AloraRegularizer(adapters, importance, path, p, LayerWeighting.Softmax) } : [];
            random.manual_seed(3);
            var domain = Enumerable
                .Range(0, 16)
                .Select(i => new TrainingExample(
                    Enumerable.Range(0, 12).Select(j => 50 + (i * 7 + j * 3) % 40).ToArray(),
                    Enumerable.Range(0, 12).Select(j => j > 0).ToArray()
                ))
                .ToList();
            using (
                var trainer = new Trainer(
                    model,
                    adapters,
                    domain,
                    new TrainConfig
                    {
                        MaxSteps = 30,
                        BatchSize = 8,
                        MicroBatchSize = 8,
                        MaxLength = 12,
                        Lr = 1e-2,
                        CheckpointEvery = 0,
                        Seed = 9,
                    },
                    hooks: hooks
                )
            )
                trainer.Train();
            foreach (var h in hooks)
                h.Dispose();
            using var _ = no_grad();
            return adapters
                .Select(a => (a.Layer.DeltaWeight() - importance.B[a.Path].matmul(importance.A[a.Path]) * a.Layer.Scaling).DetachFromDisposeScope())
                .ToArray();
        }
    }

    [Fact]
    public void PhiZeroEqualsLoraNuPlusMu()
    {
        using var d1 = new TempDir();
        using var d2 = new TempDir();
        var plain = DomainStage(d1, null);
        var zero = DomainStage(d2, 0.0);
        for (int i = 0; i < plain.Length; i++)
            Assert.Equal(plain[i].data<float>().ToArray(), zero[i].data<float>().ToArray());
        Assert.True(plain.Sum(t => t.norm().item<float>()) > 1e-3, "the domain stage must move D");
    }

    [Fact]
    public void VeryLargePhiKeepsDAtDnu()
    {
        using var d1 = new TempDir();
        using var d2 = new TempDir();
        double free = DomainStage(d1, null).Sum(t => t.norm().item<float>());
        double held = DomainStage(d2, 1e6).Sum(t => t.norm().item<float>());
        Assert.True(held < 0.1 * free, $"||D - D_nu|| {held:E3} with phi 1e6 vs {free:E3} without penalty");
    }

    [Fact]
    public void ARelativeStrengthChargesRhoTimesTheFirstLossForAMoveAsFarAsTheGeneralStages()
    {
        using var dir = new TempDir();
        var (model, adapters, importance, path) = StageNu(dir);
        using (model)
        using (importance)
        {
            const double rho = 0.2,
                ce0 = 3.0;
            using var reg = new AloraRegularizer(adapters, importance, path, 1e-3, LayerWeighting.SoftmaxNormalized, rho);
            // P_ref by hand, in double: sum_m w_m sum_i Omega_i (s B_nu A_nu)_i^2
            double pRef = 0;
            for (int m = 0; m < adapters.Count; m++)
            {
                var a = adapters[m];
                float[] aNu = importance.A[a.Path].data<float>().ToArray(),
                    bNu = importance.B[a.Path].data<float>().ToArray(),
                    omega = importance.Omega[a.Path].data<float>().ToArray();
                int r = (int)importance.A[a.Path].shape[0],
                    inF = (int)importance.A[a.Path].shape[1],
                    outF = (int)importance.B[a.Path].shape[0];
                for (int o = 0; o < outF; o++)
                for (int i = 0; i < inF; i++)
                {
                    double d = 0;
                    for (int k = 0; k < r; k++)
                        d += (double)bNu[o * r + k] * aNu[k * inF + i];
                    d *= a.Layer.Scaling;
                    pRef += reg.Weights[m] * omega[o * inF + i] * d * d;
                }
            }
            Assert.Equal(pRef, reg.ReferencePenalty, pRef * 1e-9);
            Assert.True(double.IsNaN(reg.Phi), "phi is set by the first step");

            var ctx = new StepContext
            {
                Adapters = adapters,
                Step = 0,
                TaskLoss = ce0,
            };
            using (NewDisposeScope())
                reg.Penalty(ctx);
            Assert.Equal(rho * ce0 / pRef, reg.Phi, reg.Phi * 1e-12);

            // moving the adapter from D_nu back to 0 (as far as the general stage moved it) costs rho * CE_0
            using (no_grad())
                foreach (var a in adapters)
                    a.Layer.lora_B.weight.zero_();
            using (NewDisposeScope())
            {
                double paid = reg.Penalty(ctx)!.item<float>();
                Assert.True(Math.Abs(paid - rho * ce0) <= 1e-4 * rho * ce0, $"paid {paid}, expected {rho * ce0}");
            }

            // a resumed run takes phi from the checkpoint, not from its own first step
            using var resumed = new AloraRegularizer(adapters, importance, path, 1e-3, LayerWeighting.SoftmaxNormalized, rho);
            resumed.LoadState(reg.State().ToDictionary(kv => kv.Key, kv => kv.Value));
            Assert.Equal(reg.Phi, resumed.Phi);
        }
    }
}
