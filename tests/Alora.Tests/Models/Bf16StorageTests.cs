using Alora.IO;
using Alora.Lora;
using Alora.Methods;
using Alora.Models;
using Alora.Recipes;
using Alora.Runtime;
using Alora.Tests.Cli;
using Alora.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Alora.Tests.Models;

/// <summary>
/// Base Linear weights kept in bfloat16 for float32 computation. A checkpoint published in bfloat16 widens exactly, so
/// the model must compute, and LoRA must train, bit for bit as its float32 load does; what needs the base weights'
/// gradients is refused with the fix named.
/// </summary>
[Collection(TorchRngCollection.Name)]
public class Bf16StorageTests
{
    const string Bf16Checkpoint = "tiny-random-llama3-bf16-sharded";

    [FixtureFact]
    public void ABf16CheckpointComputesBitForBitAsItsFloat32Load()
    {
        var dir = Fixtures.Model(Bf16Checkpoint);
        using var wide = ModelLoader.Load(dir);
        using var stored = ModelLoader.Load(dir, linearWeightsBf16: true);
        var linears = stored.named_modules().Where(m => m.module is Alora.Models.Linear).ToList();
        Assert.NotEmpty(linears);
        Assert.All(stored.named_parameters().Where(p => p.name.Contains("_proj.weight", StringComparison.Ordinal)), p =>
            Assert.Equal(ScalarType.BFloat16, p.parameter.dtype)
        );
        using var _ = no_grad();
        var ids = TinyModels.Ids(2, 19, stored.VocabSize, seed: 5);
        Assert.True(wide.forward(ids).eq(stored.forward(ids)).all().item<bool>(), "logits differ");
    }

    [FixtureFact]
    public void LoraTrainsBitForBitAsOnTheFloat32Load()
    {
        using var tmp = new TempDir();
        var data = TinyModels.WriteIdsJsonl(tmp.File("data.jsonl"), 8, 24, vocab: 1000);
        var float32Checkpoint = TinyModels.SaveLlama(tmp.File("f32-model"), vocab: 1000);
        string Train(string dtype, string? model = null)
        {
            var run = tmp.File("run-" + dtype + (model is null ? "" : "-f32"));
            var (code, _, err) = CliRunner.Run(
                "train",
                "--model",
                model ?? Fixtures.Model(Bf16Checkpoint),
                "--data",
                data,
                "--out",
                run,
                "--base-weights-dtype",
                dtype,
                "--max-steps",
                "4",
                "--batch-size",
                "4",
                "--max-length",
                "24",
                "--target-modules",
                "q_proj,v_proj,down_proj"
            );
            Assert.True(code == 0, err);
            return Path.Combine(run, "adapter_model.safetensors");
        }
        var (f32, bf16) = (Train("float32"), Train("bfloat16"));
        using var a = SafeTensorsFile.Open(f32).Load("base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight", ScalarType.Float32);
        Assert.NotEqual(0.0, a.abs().sum().item<float>()); // trained: B moved off its zero start
        Assert.Equal(File.ReadAllBytes(f32).Length, File.ReadAllBytes(bf16).Length);
        foreach (var name in SafeTensorsFile.Open(f32).Entries.Keys)
        {
            using var x = SafeTensorsFile.Open(f32).Load(name, ScalarType.Float32);
            using var y = SafeTensorsFile.Open(bf16).Load(name, ScalarType.Float32);
            Assert.True(x.eq(y).all().item<bool>(), name);
        }
        // the option is in force: a float32 checkpoint's weights are rounded to bfloat16, so its adapter differs
        var (g, h) = (Train("float32", float32Checkpoint), Train("bfloat16", float32Checkpoint));
        Assert.NotEqual(File.ReadAllBytes(g), File.ReadAllBytes(h));
    }

    // the widened products' gradients are released at the next call, not by a finalizer: live tensors stay level
    [FixtureFact]
    public void TrainingStepsLeaveNoTensorBehind()
    {
        using var model = ModelLoader.Load(Fixtures.Model(Bf16Checkpoint), linearWeightsBf16: true);
        var adapters = LoraInjector.Inject(model, new LoraConfig { R = 4, TargetModules = ["q_proj", "v_proj", "down_proj"] });
        var config = new TrainConfig
        {
            Lr = 1e-3,
            MaxSteps = 20,
            BatchSize = 2,
            MicroBatchSize = 1,
            MaxLength = 16,
            Seed = 3,
            CheckpointEvery = 0,
        };
        using var trainer = new Trainer(model, adapters, TinyModels.PatternData(8, 16, 1000), config);
        trainer.Train(stopAfter: 5);
        long outside = DisposeScopeManager.Statistics.CreatedOutsideScopeCount,
            live = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        trainer.Train(stopAfter: 20);
        Assert.Equal(0, DisposeScopeManager.Statistics.CreatedOutsideScopeCount - outside);
        Assert.Equal(live, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [FixtureFact]
    public void WhatNeedsTheBaseWeightsGradientIsRefused()
    {
        using var model = ModelLoader.Load(Fixtures.Model(Bf16Checkpoint), linearWeightsBf16: true);
        var data = TinyModels.PatternData(4, 16, 1000, 3);
        var e = Assert.Throws<AloraException>(() => FisherEstimator.Estimate(model, data, new FisherOptions { Samples = 2, MaxLength = 16 }));
        Assert.Contains("--base-weights-dtype float32", e.Message, StringComparison.Ordinal);

        var o = new FinetuneOptions { BaseWeightsDtype = ComputeDtype.BFloat16, Method = FinetuneMethod.EwcNu };
        Assert.Contains("ewc-nu", Assert.Throws<AloraException>(o.ValidateSettings).Message, StringComparison.Ordinal);
        o = new FinetuneOptions { BaseWeightsDtype = ComputeDtype.BFloat16, Dtype = ComputeDtype.BFloat16 };
        Assert.Contains("--dtype bfloat16", Assert.Throws<AloraException>(o.ValidateSettings).Message, StringComparison.Ordinal);
        var gpt2 = Assert.Throws<AloraException>(() => ModelLoader.Load(Fixtures.Model("tiny-gpt2"), linearWeightsBf16: true));
        Assert.Contains("Conv1D", gpt2.Message, StringComparison.Ordinal);
    }
}
