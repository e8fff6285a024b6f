using Alora.Lora;
using TorchSharp;
using static TorchSharp.torch;

namespace Alora.Tests.Lora;

public class LoraLayerTests
{
    static float MaxAbs(Tensor a, Tensor b) => (a - b).abs().max().item<float>();

    [Fact]
    public void WithBZeroTheWrappedModelEqualsTheBase()
    {
        using var model = TinyModels.Llama();
        using var ids = TinyModels.Ids(2, 10);
        using var _ = no_grad();
        using var before = model.forward(ids);
        var adapters = LoraInjector.Inject(
            model,
            new LoraConfig
            {
                R = 4,
                Alpha = 8,
                Dropout = 0.5,
            }
        );
        Assert.Equal(4, adapters.Count); // q_proj and v_proj of 2 layers
        model.train(); // dropout is on the LoRA branch only: the base path must not change
        using var after = model.forward(ids);
        Assert.Equal(0f, MaxAbs(before, after));
        Assert.All(adapters, a => Assert.Equal(0f, a.Layer.lora_B.weight.abs().max().item<float>()));
        // A is kaiming-uniform with a = sqrt(5): U(-1/sqrt(in), 1/sqrt(in))
        Assert.All(adapters, a => Assert.True(a.Layer.lora_A.weight.abs().max().item<float>() <= 1 / Math.Sqrt(32) + 1e-7));
    }

    [Fact]
    public void OnlyLoraParametersAreTrainable()
    {
        using var model = TinyModels.Llama();
        LoraInjector.Inject(model, new LoraConfig { R = 2 });
        var trainable = model.named_parameters().Where(p => p.parameter.requires_grad).Select(p => p.name).ToList();
        Assert.Equal(8, trainable.Count); // lora_A and lora_B of q_proj and v_proj in 2 layers; W0 frozen
        Assert.All(trainable, n => Assert.Matches(@"\.(q|v)_proj\.lora_[AB]\.weight$", n));
        var names = model.named_parameters().Select(p => p.name).ToList();
        Assert.Contains("model.layers.0.self_attn.q_proj.base_layer.weight", names);
        Assert.Contains("model.layers.1.self_attn.v_proj.lora_A.weight", names);
        Assert.Contains("model.layers.1.self_attn.v_proj.lora_B.weight", names);
        Assert.DoesNotContain(names, n => n.Contains("k_proj.lora", StringComparison.Ordinal));
    }

    // After one plain-SGD step of size eta, D = s B A changes by -eta s (g_B A + B g_A - eta g_B g_A) exactly.
    [Fact]
    public void OneSgdStepChangesDByTheClosedForm()
    {
        using var model = TinyModels.Llama();
        var adapters = LoraInjector.Inject(model, new LoraConfig { R = 4, Alpha = 8 });
        var layer = adapters[1].Layer;
        using (no_grad())
            foreach (var a in adapters)
                a.Layer.lora_B.weight.normal_(0, 0.1);
        foreach (var a in adapters)
        {
            a.Layer.lora_A.weight.requires_grad = true;
            a.Layer.lora_B.weight.requires_grad = true;
        }
        using var ids = TinyModels.Ids(2, 12);
        using var logits = model.forward(ids);
        using var loss = nn.functional.cross_entropy(logits[.., ..^1].reshape(-1, 97), ids[.., 1..].reshape(-1));
        loss.backward();
        double eta = 0.5,
            s = layer.Scaling;
        using var a0 = layer.lora_A.weight.detach().clone();
        using var b0 = layer.lora_B.weight.detach().clone();
        using var gA = layer.lora_A.weight.grad!.clone();
        using var gB = layer.lora_B.weight.grad!.clone();
        using var d0 = layer.DeltaWeight().detach();
        using var sgd = new Alora.Training.Sgd(
            adapters.SelectMany(a => new[] { ("a", a.Layer.lora_A.weight), ("b", a.Layer.lora_B.weight) }).ToList()
        );
        sgd.Step(eta);
        using var d1 = layer.DeltaWeight().detach();
        using var expected = -eta * s * (gB.matmul(a0) + b0.matmul(gA) - eta * gB.matmul(gA));
        using var actual = d1 - d0;
        Assert.True(expected.abs().max().item<float>() > 1e-3, "the step must move D measurably");
        Assert.True(MaxAbs(actual, expected) <= 1e-6 + 1e-4 * expected.abs().max().item<float>(), $"max diff {MaxAbs(actual, expected):E3}");
    }

    [Fact]
    public void MergeThenUnmergeRestoresW0AndMergedLogitsEqualAdapted()
    {
        using var model = TinyModels.Llama();
        var adapters = LoraInjector.Inject(model, new LoraConfig { R = 4, Alpha = 16 });
        using (no_grad())
            foreach (var a in adapters)
                a.Layer.lora_B.weight.normal_(0, 0.2);
        var w0 = adapters.Select(a => a.Layer.BaseWeight.detach().clone()).ToList();
        using var ids = TinyModels.Ids(2, 10);
        using var _ = no_grad();
        using var adapted = model.forward(ids);
        foreach (var a in adapters)
            a.Layer.Merge();
        Assert.True(MaxAbs(adapters[0].Layer.BaseWeight, w0[0]) > 1e-3, "merging must change W");
        using var merged = model.forward(ids);
        Assert.True(MaxAbs(adapted, merged) <= 1e-5, $"merged vs adapted logits differ by {MaxAbs(adapted, merged):E3}");
        foreach (var a in adapters)
            a.Layer.Unmerge();
        for (int i = 0; i < adapters.Count; i++)
            Assert.True(MaxAbs(adapters[i].Layer.BaseWeight, w0[i]) <= 1e-6);
        foreach (var w in w0)
            w.Dispose();
    }

    [Theory]
    [InlineData(8, 32, false, 4.0)]
    [InlineData(8, 32, true, 11.313708498984761)] // 32 / sqrt(8)
    [InlineData(16, 16, true, 4.0)]
    public void ScalingIsAlphaOverROrOverSqrtR(int r, double alpha, bool rs, double expected) =>
        Assert.Equal(
            expected,
            new LoraConfig
            {
                R = r,
                Alpha = alpha,
                UseRslora = rs,
            }.Scaling,
            12
        );

    [Fact]
    public void UnknownTargetModuleAndTooLargeRankAreClearErrors()
    {
        using var model = TinyModels.Llama();
        var e = Assert.Throws<AloraException>(() => LoraInjector.Inject(model, new LoraConfig { TargetModules = ["q_proj", "qkv_proj"] }));
        Assert.Contains("qkv_proj", e.Message);
        Assert.Contains("o_proj", e.Message); // lists what exists
        using var model2 = TinyModels.Llama();
        var e2 = Assert.Throws<AloraException>(() => LoraInjector.Inject(model2, new LoraConfig { R = 64, TargetModules = ["k_proj"] }));
        Assert.Contains("--rank 64", e2.Message);
    }
}
