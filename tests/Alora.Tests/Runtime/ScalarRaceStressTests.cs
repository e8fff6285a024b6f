using System.Diagnostics;
using Alora.Eval;
using Alora.Generation;
using Alora.Lora;
using Alora.Methods;
using Alora.Runtime;
using Alora.Training;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Alora.Tests.Runtime;

/// <summary>
/// The dynamic half of the fix for TorchSharp's temporary-Scalar race (the static half is
/// <see cref="ScalarLifetimeAuditTests"/>): Alora's arithmetic, training, evaluation and decoding run under a
/// <see cref="GcStorm"/>, which finalizes anything unreachable within microseconds. Run them alone with
/// <c>dotnet test --filter FullyQualifiedName~Stress</c>.
/// </summary>
[Collection(TorchRngCollection.Name)]
public class ScalarRaceStressTests(ITestOutputHelper output)
{
    /// <summary>
    /// The loop that failed within thousands of iterations when written with TorchSharp's operators (<c>x + 1e-5</c>,
    /// <c>x + y</c>, <c>x * 0.5</c>, <c>x.pow(2)</c>) under this storm, written with <see cref="ScalarOps"/>: each of
    /// its million iterations must give the exact values.
    /// </summary>
    [Fact]
    public void Stress_ScalarArithmeticSurvivesAMillionIterationsUnderForcedCollections()
    {
        const int Iterations = 1_000_000;
        using var x = arange(16, ScalarType.Float32).view(4, 4).DividedBy(8); // exact in float32: k / 8
        var clock = Stopwatch.StartNew();
        long collections;
        using (var storm = new GcStorm())
        {
            for (int i = 0; i < Iterations; i++)
            {
                using var scope = NewDisposeScope();
                var y = x.Plus(0.25); // a + c: a Scalar for c, the static one for alpha
                var z = x.Plus(y).Times(0.5).Squared(); // ((2x + 0.25) / 2)^2
                if (i % 4096 == 0)
                {
                    float k = 15 / 8f,
                        expected = (2 * k + 0.25f) / 2 * ((2 * k + 0.25f) / 2);
                    Assert.Equal(expected, z[3, 3].item<float>());
                }
            }
            collections = storm.Collections;
        }
        output.WriteLine(
            $"{Iterations:N0} iterations (4 Scalar-taking ops each) in {clock.Elapsed.TotalSeconds:F1} s under {collections:N0} forced collections"
        );
        Assert.True(collections > 1000, $"only {collections} collections: the storm did not run");
    }

    /// <summary>
    /// LoRA training with SI recording (AdamW, clipping, dropout), perplexity and greedy decoding under the storm give
    /// the same numbers, bit for bit, as the same seeded run without it: nothing was freed under libtorch.
    /// </summary>
    [Fact]
    public void Stress_TrainingEvaluationAndDecodingUnderForcedCollectionsMatchAQuietRun()
    {
        var quiet = TrainEvaluateDecode();
        using var storm = new GcStorm();
        var stormy = TrainEvaluateDecode();
        output.WriteLine($"{storm.Collections:N0} forced collections during the second run");
        Assert.Equal(quiet.Losses, stormy.Losses);
        Assert.Equal(quiet.Weights, stormy.Weights);
        Assert.Equal(quiet.Omega, stormy.Omega);
        Assert.Equal(quiet.Nll, stormy.Nll);
        Assert.Equal(quiet.Generated, stormy.Generated);
        Assert.True(storm.Collections > 100, $"only {storm.Collections} collections: the storm did not run");
    }

    /// <summary>
    /// The file-writing paths too (a checkpoint every step, the importance file, the PEFT adapter, a merged model),
    /// through the recipe of `alora train --method alora --stage both` and `alora merge`: the same bytes under the storm.
    /// </summary>
    [Fact]
    public void Stress_RecipeCheckpointsAndSavedFilesUnderForcedCollectionsMatchAQuietRun()
    {
        using var tmp = new TempDir();
        var model = TinyModels.SaveLlama(tmp.File("model"));
        var general = TinyModels.WriteIdsJsonl(tmp.File("general.jsonl"), 12, 24, seed: 1);
        var domain = TinyModels.WriteIdsJsonl(tmp.File("domain.jsonl"), 12, 24, seed: 2);
        byte[][] Run(string name)
        {
            var o = new Alora.Recipes.FinetuneOptions
            {
                Model = model,
                GeneralData = general,
                Data = domain,
                Out = tmp.File(name),
                Method = Alora.Recipes.FinetuneMethod.Alora,
                Stage = Alora.Recipes.Stage.Both,
                Phi = 10,
                MaxSteps = 12,
                BatchSize = 4,
                MicroBatchSize = 2,
                MaxLength = 24,
                Rank = 4,
                CheckpointEvery = 1,
                Lr = 0.01,
            };
            Alora.Recipes.FinetuneRecipe.Run(o);
            using var lm = Alora.Models.ModelLoader.Load(model);
            var adapters = PeftAdapter.Apply(lm, tmp.File(name + "/domain"));
            ModelMerge.MergeAndSave(lm, adapters, model, tmp.File(name + "-merged"));
            return
            [
                .. new[] { "general/importance.safetensors", "domain/adapter_model.safetensors", "domain/checkpoints" }
                    .Select(f => Path.Combine(tmp.File(name), f))
                    .SelectMany(f =>
                        Directory.Exists(f)
                            ? Directory.GetFiles(f, "*.safetensors", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray()
                            : new[] { f }
                    )
                    .Append(tmp.File(name + "-merged/model.safetensors"))
                    .Select(TensorBytes),
            ];
        }
        var quiet = Run("quiet");
        using var storm = new GcStorm();
        var stormy = Run("stormy");
        output.WriteLine($"{storm.Collections:N0} forced collections during the second run");
        Assert.Equal(quiet.Length, stormy.Length);
        for (int i = 0; i < quiet.Length; i++)
            Assert.Equal(quiet[i], stormy[i]);
    }

    /// <summary>A safetensors file's data, after its header (whose metadata holds timings that differ run to run).</summary>
    static byte[] TensorBytes(string path)
    {
        var bytes = File.ReadAllBytes(path);
        return bytes[(8 + (int)BitConverter.ToUInt64(bytes, 0))..];
    }

    sealed record Outcome(double[] Losses, float[] Weights, float[] Omega, double Nll, int[] Generated);

    static Outcome TrainEvaluateDecode()
    {
        using var model = TinyModels.Llama(seed: 5);
        var adapters = LoraInjector.Inject(
            model,
            new LoraConfig
            {
                R = 4,
                Alpha = 16,
                Dropout = 0.1,
                TargetModules = ["q_proj", "v_proj", "down_proj"],
            }
        );
        using var dir = new TempDir();
        using var recorder = new SiRecorder(adapters, SiVariant.Paper, 1e-3, clamp: true, dir.File("importance.safetensors"));
        var config = new TrainConfig
        {
            Lr = 1e-2,
            MaxSteps = 60,
            BatchSize = 4,
            MicroBatchSize = 2,
            MaxLength = 16,
            Seed = 3,
            CheckpointEvery = 0,
            MaxGradNorm = 0.5,
        };
        float[] weights,
            omega;
        double[] losses;
        using (var trainer = new Trainer(model, adapters, TinyModels.PatternData(24, 16), config, hooks: [recorder]))
        {
            losses = trainer.Train().Select(m => m.Loss).ToArray();
            weights = adapters.SelectMany(a => a.Layer.lora_B.weight.data<float>().ToArray()).ToArray();
            omega = recorder.Omega.SelectMany(o => o.data<float>().ToArray()).ToArray();
        }
        model.eval();
        var docs = TinyModels.PatternData(6, 40, seed: 9).Select(e => new ScoredSequence(e.Ids.Select(i => (long)i).ToArray())).ToList();
        var ppl = Perplexity.Evaluate(
            model,
            docs,
            new PerplexityOptions
            {
                MaxLength = 16,
                Stride = 8,
                BatchSize = 3,
            }
        );
        var generated = GreedyDecoder.Generate(model, [3, 4, 5], 20).ToArray();
        return new Outcome(losses, weights, omega, ppl.NllSum, generated);
    }
}
