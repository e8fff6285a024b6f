using Alora.Demo;
using Alora.Experiments;
using Alora.Recipes;

namespace Alora.Tests.Demo;

[Collection(TorchRngCollection.Name)]
public class DemoRecipeTests
{
    static DemoOptions CutDown(string dir) =>
        DemoOptions.QuickRun(Path.Combine(dir, "demo")) with
        {
            CacheDir = Path.Combine(dir, "cache"),
            Pretrain = new PretrainOptions
            {
                Hidden = 16,
                Layers = 1,
                Heads = 2,
                KvHeads = 1,
                Intermediate = 32,
                MaxLength = 64,
                MaxSteps = 3,
                BatchSize = 4,
                MicroBatchSize = 4,
            },
            Seeds = [1],
            GeneralSteps = 2,
            DomainSteps = 2,
            FisherSamples = 2,
            BatchSize = 4,
        };

    [Fact]
    public void CutDownDemoRunsEveryMethodAndReusesTheCachedBaseModel()
    {
        using var tmp = new TempDir();
        var o = CutDown(tmp.Path);
        var first = DemoRecipe.Run(o);
        Assert.False(first.BaseFromCache);
        Assert.True(File.Exists(Path.Combine(first.BaseModel, "model.safetensors")));
        Assert.True(File.Exists(first.Experiment.Report));
        Assert.True(File.Exists(first.Experiment.ResultsCsv));
        // the experiment.yaml kept for a rerun is the experiment that ran
        var ran = DemoRecipe.Configuration(o, first.BaseModel, first.DataDir);
        Assert.Equal(
            System.Text.Json.JsonSerializer.Serialize(ran, ExperimentConfig.Json),
            System.Text.Json.JsonSerializer.Serialize(ExperimentConfig.Load(first.ConfigPath), ExperimentConfig.Json)
        );
        var summary = DemoRecipe.Summarize(first.Experiment.Rows, o.Methods);
        Assert.Equal(o.Methods, summary.Select(r => r.Method));
        Assert.All(summary, r =>
            Assert.True(double.IsFinite(r.GeneralPpl) && r.DomainAcc is >= 0 and <= 1 && r.FactsAcc is >= 0 and <= 1, r.ToString())
        );

        var second = DemoRecipe.Run(o);
        Assert.True(second.BaseFromCache);
        Assert.Equal(first.BaseModel, second.BaseModel);
        Assert.Equal(0, second.Experiment.Trained);
    }

    [Fact]
    public void TheCutDownStudyDrawsEveryMethodsCurve()
    {
        using var tmp = new TempDir();
        var study = DemoOptions.StudyQuick("x");
        var o = CutDown(tmp.Path) with
        {
            Methods = DemoOptions.StudyMethods,
            Strengths = study.Strengths,
            RelativeStrength = study.RelativeStrength,
            ReplayFraction = study.ReplayFraction,
            AdapterScale = study.AdapterScale,
            LayerWeightCurves = study.LayerWeightCurves,
            LayerWeightStrengths = study.LayerWeightStrengths,
        };
        var r = DemoRecipe.Run(o);
        foreach (var (m, values) in o.Strengths)
        {
            // each listed strength and the configured one, for the one seed
            var points = r.Experiment.Rows.Where(x => x.Method == m && x.Sweep == "strength").Select(x => x.Strength).ToList();
            Assert.Equal(values.Count + 1, points.Distinct().Count());
        }
        var report = File.ReadAllText(r.Experiment.Report);
        Assert.Contains("## Trade-off frontier", report, StringComparison.Ordinal);
        Assert.Contains("PPL at acc", report, StringComparison.Ordinal);
        // the layer weightings compared on the frontier, each a curve of its own
        foreach (var w in new[] { "softmax", "softmax-log" })
            Assert.Contains($"| Ours ({w}) |", report, StringComparison.Ordinal);
        // the scale-free strength: rho for Ours, Ours − layer and EWC(ν), as the rows' strength
        foreach (var m in new[] { "alora", "alora-no-layer", "ewc-nu" })
            Assert.Contains(study.RelativeStrength!.Value, r.Experiment.Rows.Where(x => x.Method == m).Select(x => x.Strength));
        // the default demo's methods are untouched by the study's
        Assert.Equal(["base", "lora-mu", "lora-nu-mu", "rslora", "ewc-lora", "alora-no-layer", "alora"], DemoOptions.Default("d").Methods);
    }

    [Fact]
    public void TheCacheKeyFollowsThePretrainingTextTheTokenizerAndThePretrainingSettings()
    {
        using var tmp = new TempDir();
        var dir = tmp.Path;
        Directory.CreateDirectory(Path.Combine(dir, "general"));
        File.WriteAllText(Path.Combine(dir, SyntheticData.Pretrain), "a b c\n");
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), "{}");
        var p = DemoOptions.Default("x").Pretrain;
        string key = DemoRecipe.BaseKey(p, dir);
        Assert.Equal(key, DemoRecipe.BaseKey(DemoOptions.QuickRun("y").Pretrain, dir));
        Assert.NotEqual(key, DemoRecipe.BaseKey(p with { MaxSteps = p.MaxSteps + 1 }, dir));
        File.WriteAllText(Path.Combine(dir, SyntheticData.Pretrain), "a b d\n");
        string changedText = DemoRecipe.BaseKey(p, dir);
        Assert.NotEqual(key, changedText);
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), "{ }");
        Assert.NotEqual(changedText, DemoRecipe.BaseKey(p, dir));
    }
}

public class DemoWorldTests
{
    [Fact]
    public void TheDemoWorldsPretrainingTextNamesEveryDrugSuffixAndEveryAnswerOfTheDomain()
    {
        using var tmp = new TempDir();
        SyntheticData.Generate(tmp.Path, DemoOptions.World);
        var pretrain = File.ReadAllText(Path.Combine(tmp.Path, "general", "pretrain.txt")).ToLowerInvariant();
        var items = File.ReadAllLines(Path.Combine(tmp.Path, "domain", "train.jsonl"))
            .Concat(File.ReadAllLines(Path.Combine(tmp.Path, "domain", "test.jsonl")))
            .Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement)
            .ToList();
        var answers = items.Select(e => e.GetProperty("correct_answer").GetString()!.ToLowerInvariant()).Distinct().ToList();
        var suffixes = items
            .SelectMany(e =>
                System
                    .Text.RegularExpressions.Regex.Matches(e.GetProperty("question").GetString()!.ToLowerInvariant(), @"\w+-(\w+)")
                    .Select(m => m.Groups[1].Value)
            )
            .Distinct()
            .ToList();
        Assert.Equal(8, suffixes.Count);
        Assert.All(suffixes, s => Assert.Contains("-" + s, pretrain, StringComparison.Ordinal));
        Assert.All(answers, a => Assert.Contains(a, pretrain, StringComparison.Ordinal));
    }
}
