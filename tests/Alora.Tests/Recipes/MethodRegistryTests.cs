using Alora.Experiments;
using Alora.Recipes;

namespace Alora.Tests.Recipes;

/// <summary>A method is one registration: every method has exactly one, and what it declares is consistent with the options and the experiment.</summary>
public sealed class MethodRegistryTests
{
    [Fact]
    public void EveryMethodIsRegisteredOnce()
    {
        Assert.Equal(Enum.GetValues<FinetuneMethod>().Order(), MethodRegistry.All.Select(s => s.Method).Order());
        foreach (var m in Enum.GetValues<FinetuneMethod>())
            Assert.Equal(m, MethodRegistry.Get(m).Method);
    }

    /// <summary>The paper's tables list the methods in this order (base, then the baselines, then the ablation and the method).</summary>
    [Fact]
    public void TheExperimentComparesThePapersMethodsInThePapersOrder()
    {
        Assert.Equal(
            ["base", "lora-mu", "lora-scaled", "lora-nu-mu", "rslora", "replay", "ewc-lora", "ewc-nu", "alora-no-layer", "alora"],
            ExperimentMethods.All
        );
        Assert.Equal(
            ["Base", "LoRA(μ)", "LoRA(μ)×β", "LoRA(ν+μ)", "RSLoRA", "Replay", "EWC-LoRA", "EWC(ν)", "Ours − layer", "Ours"],
            ExperimentMethods.All.Select(ExperimentMethods.Display)
        );
        Assert.Equal(["lora-nu-mu", "ewc-nu", "alora-no-layer", "alora"], ExperimentMethods.All.Where(ExperimentMethods.ContinuesGeneral));
        Assert.Equal(["ewc-lora"], ExperimentMethods.All.Where(ExperimentMethods.NeedsFisher));
        Assert.Equal(["replay", "ewc-nu"], ExperimentMethods.All.Where(ExperimentMethods.ReadsGeneralData));
        Assert.Equal(
            ["lora-nu-mu", "replay", "ewc-lora", "ewc-nu", "alora-no-layer", "alora"],
            ExperimentMethods.All.Where(ExperimentMethods.NeedsGeneralData)
        );
        Assert.Equal(FinetuneMethod.Replay, ExperimentMethods.RecipeMethod("replay"));
        Assert.Equal(FinetuneMethod.Lora, ExperimentMethods.RecipeMethod("lora-nu-mu"));
        Assert.Equal(["lora-scaled"], ExperimentMethods.All.Where(ExperimentMethods.EvalOnly));
    }

    /// <summary>An eval-only method scales the adapter of a trained method of the same registration, never of another eval-only one.</summary>
    [Fact]
    public void AnEvalOnlyMethodScalesATrainedMethodOfItsOwnRegistration()
    {
        Assert.Equal("lora-mu", ExperimentMethods.ScalesAdapterOf("lora-scaled"));
        Assert.Equal("lora-mu", ExperimentMethods.Trained("lora-scaled"));
        Assert.Equal("alora", ExperimentMethods.Trained("alora"));
        foreach (var s in MethodRegistry.All)
        foreach (var e in s.Experiment.Where(e => e.EvalOnly))
        {
            var of = s.Experiment.SingleOrDefault(x => x.Name == e.ScalesAdapterOf);
            Assert.True(of is { EvalOnly: false }, $"{e.Name} scales {e.ScalesAdapterOf}, not a trained method of {s.Method}");
            Assert.False(e.ContinuesGeneral || e.RecordsImportance || e.NeedsFisher, e.Name);
        }
    }

    [Fact]
    public void AMethodsOwnOptionsAreOptionsOfTheCatalogAndItsStagesAreRealStages()
    {
        foreach (var s in MethodRegistry.All)
        {
            Assert.NotEmpty(s.Stages);
            Assert.DoesNotContain(Stage.Both, s.Stages.Keys);
            foreach (var key in s.Options)
                Assert.NotNull(OptionCatalog.Find(key));
        }
        // the options every method reads are nobody's own
        foreach (var common in new[] { "lr", "rank", "alpha", "target-modules", "seed", "dtype", "init-adapter" })
            Assert.Empty(MethodRegistry.Readers(common));
        Assert.Equal([FinetuneMethod.Alora], MethodRegistry.Readers("layer-weights"));
        Assert.Equal([FinetuneMethod.EwcLora, FinetuneMethod.EwcNu], MethodRegistry.Readers("ewc-lambda"));
        Assert.Equal([FinetuneMethod.EwcNu], MethodRegistry.Readers("fisher-samples"));
        Assert.Equal([FinetuneMethod.Replay], MethodRegistry.Readers("replay-fraction"));
        // --general-data is also read by --stage both of every method: no method's own, so it is never warned about
        Assert.Empty(MethodRegistry.Readers("general-data"));
    }

    [Fact]
    public void RsLoraScalesByTheSquareRootOfTheRankWhateverRsloraSays()
    {
        var o = new FinetuneOptions
        {
            Method = FinetuneMethod.Rslora,
            Rank = 16,
            Alpha = 32,
        };
        Assert.Equal(32 / 4.0, o.ToLoraConfig().Scaling);
        Assert.Equal(32 / 16.0, (o with { Method = FinetuneMethod.Lora }).ToLoraConfig().Scaling);
    }
}
