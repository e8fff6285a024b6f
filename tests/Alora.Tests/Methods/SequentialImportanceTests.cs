using Alora.Methods;
using Alora.Recipes;
using static TorchSharp.torch;

namespace Alora.Tests.Methods;

/// <summary>
/// Sequential tuning (eq. 15) at the recipe level: a domain stage with --record-importance writes the importance of
/// everything so far (the penalty's plus its own) with its end factors; a second domain stage continues it, anchored at its end.
/// </summary>
[Collection(TorchRngCollection.Name)]
public sealed class SequentialImportanceTests
{
    static FinetuneOptions Options(TempDir tmp, string model, string data, string run, Stage stage) =>
        new()
        {
            Model = model,
            Data = data,
            Out = tmp.File(run),
            Method = FinetuneMethod.Alora,
            Stage = stage,
            BatchSize = 4,
            MicroBatchSize = 4,
            MaxSteps = 5,
            MaxLength = 16,
            Lr = 1e-2,
            Phi = 10,
            Seed = 3,
        };

    [Fact]
    public void ADomainStageRecordsTheImportanceSoFarAndTheNextStageContinuesFromIt()
    {
        using var tmp = new TempDir();
        var model = TinyModels.SaveLlama(tmp.File("model"));
        var general = TinyModels.WriteIdsJsonl(tmp.File("general.jsonl"), 12, 16, seed: 2);
        var mu1 = TinyModels.WriteIdsJsonl(tmp.File("mu1.jsonl"), 12, 16, seed: 5);
        var mu2 = TinyModels.WriteIdsJsonl(tmp.File("mu2.jsonl"), 12, 16, seed: 8);
        FinetuneRecipe.Run(Options(tmp, model, general, "nu", Stage.General));
        var first = Options(tmp, model, mu1, "mu1", Stage.Domain) with { InitAdapter = tmp.File("nu"), RecordImportance = true };
        var recorded = FinetuneRecipe.Run(first).History;
        // recording observes: the same stage without it trains the same steps
        var plain = FinetuneRecipe.Run(first with { Out = tmp.File("mu1-plain"), RecordImportance = false }).History;
        Assert.Equal(plain.Select(m => (m.Loss, m.GradNorm)), recorded.Select(m => (m.Loss, m.GradNorm)));
        Assert.False(File.Exists(tmp.File("mu1-plain/importance.safetensors")));

        using (var nu = ImportanceFile.Load(tmp.File("nu/importance.safetensors")))
        using (var sum = ImportanceFile.Load(tmp.File("mu1/importance.safetensors")))
        {
            Assert.Equal("2", sum.Metadata["stages"]);
            // Omega_nu + Omega_mu1 with Omega_mu1 >= 0 (clamped): never below the prior, and above it somewhere
            double added = 0;
            foreach (var m in nu.Modules)
            {
                var diff = sum.Omega[m].to(ScalarType.Float64) - nu.Omega[m].to(ScalarType.Float64);
                Assert.True(diff.min().item<double>() >= -1e-6 * (1 + nu.Omega[m].abs().max().item<float>()), m);
                added += diff.sum().item<double>();
            }
            Assert.True(added > 0, "the stage added no importance");
        }

        // the next stage continues mu1's adapter: its anchor is mu1's end (the penalty is 0 at its first step), and a
        // check of the importance's factors against the continued adapter passes
        var second = FinetuneRecipe.Run(Options(tmp, model, mu2, "mu2", Stage.Domain) with { InitAdapter = tmp.File("mu1") }).History;
        Assert.Equal(0.0, second[0].Penalties["alora_penalty"], 6);
        Assert.True(second[^1].Penalties["alora_penalty"] > 0);
        // mu1-plain recorded nothing, so a stage continuing it has no importance of its own to read
        var e = Assert.Throws<AloraException>(() =>
            FinetuneRecipe.Run(Options(tmp, model, mu2, "mu2b", Stage.Domain) with { InitAdapter = tmp.File("mu1-plain") })
        );
        Assert.Contains("importance file not found", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RecordImportanceIsForADomainStageAndTakesNoPriorOfItsOwn()
    {
        using var tmp = new TempDir();
        var model = TinyModels.SaveLlama(tmp.File("model"));
        var data = TinyModels.WriteIdsJsonl(tmp.File("d.jsonl"), 8, 16);
        var e = Assert.Throws<AloraException>(() =>
            FinetuneRecipe.Run(Options(tmp, model, data, "g", Stage.General) with { RecordImportance = true })
        );
        Assert.Contains("--record-importance is for --stage domain", e.Message, StringComparison.Ordinal);
        FinetuneRecipe.Run(Options(tmp, model, data, "nu", Stage.General));
        e = Assert.Throws<AloraException>(() =>
            FinetuneRecipe.Run(
                Options(tmp, model, data, "mu", Stage.Domain) with
                {
                    InitAdapter = tmp.File("nu"),
                    RecordImportance = true,
                    PriorImportance = tmp.File("nu/importance.safetensors"),
                }
            )
        );
        Assert.Contains("--prior-importance is the general stage's", e.Message, StringComparison.Ordinal);
    }
}
