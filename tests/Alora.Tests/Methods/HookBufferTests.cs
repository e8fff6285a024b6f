using Alora.Lora;
using Alora.Methods;
using Alora.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Alora.Tests.Methods;

/// <summary>
/// The recorder and the penalty reuse preallocated buffers, one scratch shared by modules of different
/// shapes (q_proj 32x32, v_proj 16x32 here): checked against the formulas written plainly, and for
/// live tensors that stay flat over many steps.
/// </summary>
[Collection(TorchRngCollection.Name)]
public class HookBufferTests
{
    static readonly TrainConfig Config = new()
    {
        MaxSteps = 40,
        BatchSize = 4,
        MicroBatchSize = 4,
        MaxLength = 10,
        Lr = 1e-2,
        CheckpointEvery = 0,
    };

    /// <summary>Paper-variant omega with fresh tensors each step: omega += -s(g_B A + B g_A - eta g_B g_A) * s(B'A' - BA).</summary>
    sealed class PlainPaperOmega(IReadOnlyList<AdaptedModule> adapters) : ITrainingHook
    {
        public readonly Tensor[] Omega = adapters
            .Select(a => zeros(a.Layer.OutFeatures, a.Layer.InFeatures, ScalarType.Float64).DetachFromDisposeScope())
            .ToArray();
        readonly Tensor?[] _g = new Tensor?[adapters.Count],
            _d = new Tensor?[adapters.Count];
        public string Name => "plain";

        public void OnTaskGradients(StepContext ctx)
        {
            using var _ = no_grad();
            for (int i = 0; i < adapters.Count; i++)
            {
                var l = adapters[i].Layer;
                Tensor a = l.lora_A.weight.to_type(ScalarType.Float64),
                    b = l.lora_B.weight.to_type(ScalarType.Float64);
                Tensor gA = l.lora_A.weight.grad!.to_type(ScalarType.Float64),
                    gB = l.lora_B.weight.grad!.to_type(ScalarType.Float64);
                _g[i]?.Dispose();
                _d[i]?.Dispose();
                _g[i] = ((gB.matmul(a) + b.matmul(gA) - gB.matmul(gA) * ctx.Lr) * l.Scaling).DetachFromDisposeScope();
                _d[i] = (b.matmul(a) * l.Scaling).DetachFromDisposeScope();
            }
        }

        public void AfterOptimizerStep(StepContext ctx)
        {
            using var _ = no_grad();
            for (int i = 0; i < adapters.Count; i++)
            {
                var l = adapters[i].Layer;
                var theta = l.lora_B.weight.to_type(ScalarType.Float64).matmul(l.lora_A.weight.to_type(ScalarType.Float64)) * l.Scaling - _d[i]!;
                Omega[i].sub_(_g[i]! * theta);
            }
        }

        public void Dispose()
        {
            foreach (var t in Omega.Concat(_g.OfType<Tensor>()).Concat(_d.OfType<Tensor>()))
                t.Dispose();
        }
    }

    [Fact]
    public void PaperOmegaOfModulesOfTwoShapesMatchesThePlainFormulaAndLiveTensorsStayFlat()
    {
        using var model = TinyModels.Llama();
        random.manual_seed(4);
        var adapters = LoraInjector.Inject(model, new LoraConfig { R = 4, Alpha = 8 });
        using var rec = new SiRecorder(adapters, SiVariant.Paper, 1e-3, true, "unused.safetensors");
        using var plain = new PlainPaperOmega(adapters);
        using var trainer = new Trainer(model, adapters, TinyModels.PatternData(8, 10), Config, hooks: [rec, plain]);
        trainer.Train(stopAfter: 10);
        long after10 = DisposeScopeManager.Statistics.TensorStatistics.ThreadTotalLiveCount;
        trainer.Train();
        long after40 = DisposeScopeManager.Statistics.TensorStatistics.ThreadTotalLiveCount;
        Assert.True(after40 - after10 <= 0, $"live tensors grew from {after10} to {after40} over 30 steps");
        for (int i = 0; i < adapters.Count; i++)
        {
            using var want = plain.Omega[i].to_type(ScalarType.Float32);
            double scale = want.abs().max().item<float>();
            Assert.True(scale > 0, "omega must move");
            double err = (rec.Omega[i] - want).abs().max().item<float>();
            Assert.True(err <= 1e-3 * scale, $"{adapters[i].Path}: max |omega - plain| = {err:E3}, scale {scale:E3}");
        }
    }

    [Fact]
    public void ExactRecordingKeepsLiveTensorsFlat()
    {
        using var model = TinyModels.Llama();
        var adapters = LoraInjector.Inject(model, new LoraConfig { R = 4, Alpha = 8 });
        using var rec = new SiRecorder(adapters, SiVariant.Exact, 1e-3, true, "unused.safetensors");
        using var trainer = new Trainer(model, adapters, TinyModels.PatternData(8, 10), Config, hooks: [rec]);
        trainer.Train(stopAfter: 10);
        long after10 = DisposeScopeManager.Statistics.TensorStatistics.ThreadTotalLiveCount;
        trainer.Train();
        long after40 = DisposeScopeManager.Statistics.TensorStatistics.ThreadTotalLiveCount;
        Assert.True(after40 - after10 <= 0, $"live tensors grew from {after10} to {after40} over 30 steps");
        Assert.All(rec.Omega, o => Assert.True(o.abs().sum().item<float>() > 0));
    }

    [Fact]
    public void PenaltyOfModulesOfTwoShapesMatchesAutogradOfThePlainFormulaAndLiveTensorsStayFlat()
    {
        using var model = TinyModels.Llama();
        random.manual_seed(6);
        var adapters = LoraInjector.Inject(model, new LoraConfig { R = 4, Alpha = 8 });
        using (no_grad())
            foreach (var a in adapters)
                a.Layer.lora_B.weight.normal_(0, 0.1);
        var importance = new ImportanceFile
        {
            Modules = adapters.Select(a => a.Path).ToList(),
            Omega = adapters.ToDictionary(a => a.Path, a => rand(a.Layer.OutFeatures, a.Layer.InFeatures).DetachFromDisposeScope()),
            A = adapters.ToDictionary(a => a.Path, a => randn(4, a.Layer.InFeatures).mul_(0.1).DetachFromDisposeScope()),
            B = adapters.ToDictionary(a => a.Path, a => randn(a.Layer.OutFeatures, 4).mul_(0.1).DetachFromDisposeScope()),
            Scaling = adapters[0].Layer.Scaling,
            Metadata = new Dictionary<string, string>(),
        };
        const double phi = 3.0;
        using var reg = new AloraRegularizer(adapters, importance, "imp", phi, LayerWeighting.SoftmaxLog);
        var ctx = new StepContext { Adapters = adapters };
        var parameters = adapters.SelectMany(a => new[] { a.Layer.lora_A.weight, a.Layer.lora_B.weight }).ToList();

        using var p = reg.Penalty(ctx)!;
        p.backward();
        var grads = parameters.Select(x => x.grad!.clone().DetachFromDisposeScope()).ToList();
        foreach (var x in parameters)
            x.grad!.zero_();
        Tensor want = zeros(1).squeeze();
        for (int i = 0; i < adapters.Count; i++)
        {
            var l = adapters[i].Layer;
            var diff = (l.lora_B.weight.matmul(l.lora_A.weight) - importance.B[adapters[i].Path].matmul(importance.A[adapters[i].Path])) * l.Scaling;
            want = want + (importance.Omega[adapters[i].Path] * diff.square()).sum() * (phi * reg.Weights[i]);
        }
        want.backward();
        Assert.Equal(want.item<float>(), p.item<float>(), 1e-5 * Math.Abs(want.item<float>()));
        for (int j = 0; j < parameters.Count; j++)
        {
            double scale = parameters[j].grad!.abs().max().item<float>();
            double err = (grads[j] - parameters[j].grad!).abs().max().item<float>();
            Assert.True(scale > 0 && err <= 1e-4 * scale, $"gradient {j}: max error {err:E3}, scale {scale:E3}");
        }

        using var trainer = new Trainer(model, adapters, TinyModels.PatternData(8, 10), Config, hooks: [reg]);
        trainer.Train(stopAfter: 10);
        long after10 = DisposeScopeManager.Statistics.TensorStatistics.ThreadTotalLiveCount;
        var history = trainer.Train();
        long after40 = DisposeScopeManager.Statistics.TensorStatistics.ThreadTotalLiveCount;
        Assert.True(after40 - after10 <= 0, $"live tensors grew from {after10} to {after40} over 30 steps");
        Assert.True(history[^1].Penalties["alora_penalty"] > 0);
        importance.Dispose();
    }
}
