using Alora.Experiments;
using Alora.Methods;

namespace Alora.Tests.Experiments;

/// <summary>sweeps.strength: any method with a strength gets a curve of runs, each row carries its strength.</summary>
public sealed class StrengthSweepTests
{
    static string Config(TempDir tmp, string sweeps, string methods = "[base, lora-mu, ewc-lora, alora]")
    {
        Directory.CreateDirectory(tmp.File("model"));
        foreach (var f in new[] { "g.txt", "h.txt", "train.jsonl", "test.jsonl" })
            File.WriteAllText(tmp.File(f), "x\n");
        var yaml = tmp.File("e.yaml");
        File.WriteAllText(
            yaml,
            $"""
            model: model
            general: {"{"}train: g.txt, heldout: h.txt{"}"}
            domain:
              - {"{"}name: quiz, task: mcq, train: train.jsonl, test: test.jsonl{"}"}
            methods: {methods}
            seeds: [1, 2]
            overrides:
              alora: {"{"}phi: 30{"}"}
            sweeps:
            {sweeps}
            """
        );
        return yaml;
    }

    [Fact]
    public void EachListedStrengthIsARunAndTheConfiguredOneIsTheMainRun()
    {
        using var tmp = new TempDir();
        var c = ExperimentConfig.Load(Config(tmp, "  strength: {ewc-lora: [10, 100], alora: [3, 30]}"));
        var plan = ExperimentPlanner.Plan(c, tmp.File("out"));
        var ewc = plan.Entries.Where(e => e.Method == "ewc-lora" && e.Sweep == "strength" && e.Seed == 1).ToList();
        // 10 and 100, and the configured ewc-lambda (1, the default) whose run is the main one
        Assert.Equal([10.0, 100.0, 1.0], ewc.Select(e => e.SweepValue!.Value));
        var main = plan.Entries.Single(e => e.Method == "ewc-lora" && e.Sweep is null && e.Seed == 1);
        Assert.Equal(main.Run, ewc[2].Run);
        Assert.Equal(100.0, plan.Job(ewc[1].Run).Train!.EwcLambda);
        // phi 30 is alora's configured value: listed once, its run the main one
        var alora = plan.Entries.Where(e => e.Method == "alora" && e.Sweep == "strength" && e.Seed == 2).ToList();
        Assert.Equal([3.0, 30.0], alora.Select(e => e.SweepValue!.Value));
        Assert.Equal(plan.Entries.Single(e => e.Method == "alora" && e.Sweep is null && e.Seed == 2).Run, alora[1].Run);
        Assert.Equal(3.0, ExperimentMethods.Strength("alora", plan.Job(alora[0].Run).Train));
        Assert.Null(ExperimentMethods.Strength("lora-mu", plan.Job(plan.Entries.First(e => e.Method == "lora-mu").Run).Train));
    }

    [Fact]
    public void ReplaysFractionAndTheScaledAdaptersBetaAreStrengthsToo()
    {
        using var tmp = new TempDir();
        var c = ExperimentConfig.Load(Config(tmp, "  strength: {replay: [0, 0.5], lora-scaled: [0, 1]}", "[lora-mu, lora-scaled, replay]"));
        var plan = ExperimentPlanner.Plan(c, tmp.File("out"));
        var replay = plan.Entries.Where(e => e.Method == "replay" && e.Sweep == "strength" && e.Seed == 1).ToList();
        Assert.Equal([0.0, 0.5, 0.25], replay.Select(e => e.SweepValue!.Value)); // 0.25: the default replay-fraction
        Assert.Equal([0.0, 0.5, 0.25], replay.Select(e => plan.Job(e.Run).Train!.ReplayFraction));
        var scaled = plan.Entries.Where(e => e.Method == "lora-scaled" && e.Sweep == "strength" && e.Seed == 1).ToList();
        Assert.Equal([0.0, 1.0, 0.5], scaled.Select(e => plan.Job(e.Run).AdapterScale!.Value));
        // every beta evaluates the one lora-mu adapter of the seed: nothing more is trained
        Assert.Single(scaled.Select(e => plan.Job(e.Run).AdapterOf).Distinct());
    }

    [Fact]
    public void EachOtherLayerWeightingIsACurveOverAlorasStrengths()
    {
        using var tmp = new TempDir();
        // configured: phi 30 with the default softmax weighting
        var c = ExperimentConfig.Load(Config(tmp, "  strength: {alora: [3]}\n  layer-weights: [softmax, uniform, softmax-log]"));
        var plan = ExperimentPlanner.Plan(c, tmp.File("out"));
        var variants = plan.Entries.Where(e => e.Sweep == "layer-weights" && e.Seed == 1).Select(e => plan.Job(e.Run).Train!).ToList();
        // softmax is the configured weighting (its curve is the main one): uniform and softmax-log at phi 3 and 30
        Assert.Equal(
            [(LayerWeighting.Uniform, 3.0), (LayerWeighting.Uniform, 30.0), (LayerWeighting.SoftmaxLog, 3.0), (LayerWeighting.SoftmaxLog, 30.0)],
            variants.Select(o => (o.LayerWeights, o.Phi))
        );
        Assert.Equal(4, plan.Entries.Where(e => e.Sweep == "layer-weights" && e.Seed == 1).Select(e => e.Run).Distinct().Count());
    }

    [Fact]
    public void LayerWeightStrengthsDrawTheOtherWeightingsAtTheStrengthsListedOnly()
    {
        using var tmp = new TempDir();
        var c = ExperimentConfig.Load(Config(tmp, "  strength: {alora: [3, 10]}\n  layer-weights: [uniform]\n  layer-weight-strengths: [10, 100]"));
        var plan = ExperimentPlanner.Plan(c, tmp.File("out"));
        var variants = plan.Entries.Where(e => e.Sweep == "layer-weights" && e.Seed == 2).Select(e => plan.Job(e.Run).Train!).ToList();
        // phi 10 and 100, not alora's 3, 10 and 30; 100 need not be one of alora's own strengths
        Assert.Equal([(LayerWeighting.Uniform, 10.0), (LayerWeighting.Uniform, 100.0)], variants.Select(o => (o.LayerWeights, o.Phi)));
        // alora's own curve is unchanged
        Assert.Equal(3, plan.Entries.Count(e => e.Method == "alora" && e.Sweep == "strength" && e.Seed == 2));
    }

    [Theory]
    [InlineData("  layer-weights: [uniform, uniform]", "sweeps.layer-weights: a weighting is listed twice")]
    [InlineData("  layer-weights: [onehot]", "onehot")]
    [InlineData("  layer-weight-strengths: [1]", "sweeps.layer-weight-strengths: no sweeps.layer-weights to draw at them")]
    [InlineData(
        "  layer-weights: [uniform]\n  layer-weight-strengths: [1, -1]",
        "sweeps.layer-weight-strengths: every value must be a finite number >= 0"
    )]
    [InlineData("  layer-weights: [uniform]\n  layer-weight-strengths: [2, 2]", "sweeps.layer-weight-strengths: a value is listed twice")]
    [InlineData("  strength: {lora-mu: [1, 2]}", "sweeps.strength.lora-mu: lora-mu has no strength to vary (methods with one: ")]
    [InlineData("  strength: {rslora: [1]}", "sweeps.strength.rslora: 'rslora' is not in 'methods'")]
    [InlineData("  strength: {alora: []}", "sweeps.strength.alora: list one or more finite values >= 0")]
    [InlineData("  strength: {alora: [1, -2]}", "sweeps.strength.alora: list one or more finite values >= 0")]
    [InlineData("  strength: {alora: [1, 1]}", "sweeps.strength.alora: a value is listed twice")]
    [InlineData("  strength: {alora: [.nan]}", "'sweeps.strength.alora")]
    public void ABadStrengthSweepIsAnErrorNamingTheKey(string sweeps, string message)
    {
        using var tmp = new TempDir();
        var e = Assert.Throws<AloraException>(() => ExperimentConfig.Load(Config(tmp, sweeps)));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheStrengthColumnRoundTripsAndAnOlderCsvWithoutItStillReads()
    {
        using var tmp = new TempDir();
        var rows = new List<ResultRow>
        {
            new()
            {
                Method = "alora",
                Seed = 1,
                Task = "quiz",
                Run = "a",
                Phi = 3,
                Strength = 3,
                Sweep = "strength",
                SweepValue = 3,
            },
            new()
            {
                Method = "lora-mu",
                Seed = 1,
                Task = "quiz",
                Run = "b",
            },
        };
        var csv = tmp.File("results.csv");
        ExperimentResults.WriteCsv(csv, rows, []);
        var header = File.ReadLines(csv).First().Split(',');
        // after the methods' own option columns (phi ... ewc_lambda ...), before the losses
        Assert.InRange(Array.IndexOf(header, "strength"), Array.IndexOf(header, "ewc_lambda") + 1, Array.IndexOf(header, "final_task_loss") - 1);
        var back = ExperimentResults.ReadCsv(csv);
        Assert.Equal([3.0, null], back.Select(r => r.Strength));
        File.WriteAllText(csv, "method,seed,task,general_ppl,acc,acc_norm,run,phi\nalora,1,quiz,5,0.5,0.5,a,3\n");
        Assert.Null(Assert.Single(ExperimentResults.ReadCsv(csv)).Strength);
    }
}
