using Alora.Experiments;

namespace Alora.Tests.Experiments;

/// <summary>The experiment's sequence: each trained method's run continues into the next tasks, each stage from the one before.</summary>
public sealed class SequencePlanTests
{
    static string Config(TempDir tmp, string sequence, string methods = "[base, lora-mu, lora-scaled, ewc-lora, ewc-nu, alora]", string sweeps = "")
    {
        Directory.CreateDirectory(tmp.File("model"));
        foreach (var f in new[] { "g.txt", "h.txt", "train.jsonl", "test.jsonl", "z.jsonl", "zt.jsonl", "w.jsonl", "wt.jsonl", "facts.jsonl" })
            File.WriteAllText(tmp.File(f), "x\n");
        var yaml = tmp.File("e.yaml");
        File.WriteAllText(
            yaml,
            $"""
            model: model
            general: {"{"}train: g.txt, heldout: h.txt{"}"}
            domain:
              - {"{"}name: quiz, task: mcq, train: train.jsonl, test: test.jsonl{"}"}
            sequence:
            {sequence}
            probes:
              - {"{"}name: facts, task: mcq, file: facts.jsonl{"}"}
            methods: {methods}
            seeds: [1, 2]
            overrides:
              alora: {"{"}phi: 30{"}"}
            {sweeps}
            """
        );
        return yaml;
    }

    const string Zoo = "  - {name: zoo, task: mcq, train: z.jsonl, test: zt.jsonl}";
    const string Wild = "  - {name: wild, task: mcq, train: w.jsonl, test: wt.jsonl}";

    [Fact]
    public void EachTrainedMethodContinuesItsRunIntoTheNextTask()
    {
        using var tmp = new TempDir();
        var c = ExperimentConfig.Load(Config(tmp, Zoo, sweeps: "sweeps:\n  strength: {alora: [3]}"));
        var plan = ExperimentPlanner.Plan(c, tmp.File("out"));
        var stages = plan.Entries.Where(e => e.Sweep == ExperimentPlanner.SequenceSweep && e.Seed == 1).ToList();
        // every trained method once, at its configured strength; base and the eval-only lora-scaled have nothing to continue
        Assert.Equal(["lora-mu", "ewc-lora", "ewc-nu", "alora"], stages.Select(e => e.Method));
        Assert.All(stages, e => Assert.Equal(("zoo", 1.0), (e.Task, e.SweepValue!.Value)));
        foreach (var e in stages)
        {
            var job = plan.Job(e.Run);
            var first = plan.Job($"{e.Method}-quiz-s1");
            Assert.Equal($"{e.Method}-quiz-zoo-s1", job.Name);
            Assert.Equal(plan.RunDir(first.Name), job.Train!.InitAdapter);
            Assert.Equal(tmp.File("z.jsonl"), job.Train.Data);
            Assert.Contains(first.Name, job.DependsOn);
            Assert.DoesNotContain(job.DependsOn, d => plan.Job(d).Kind == JobKind.General);
            // tested on its task, on the task before it (retention) and on the probe
            Assert.Equal(["zoo", "quiz", "facts"], job.Eval!.Tasks.Select(t => t.Name));
            Assert.False(job.Train.RecordImportance); // the last stage: nothing continues it
            Assert.Equal(ExperimentMethods.Strength(e.Method, first.Train), ExperimentMethods.Strength(e.Method, job.Train));
        }
        // Ours' first run records its importance for the stage after it; its other strengths do not (nothing continues them)
        Assert.True(plan.Job("alora-quiz-s1").Train!.RecordImportance);
        Assert.False(plan.Job("alora-quiz-s1-phi3").Train!.RecordImportance);
        Assert.False(plan.Job("ewc-nu-quiz-s1").Train!.RecordImportance);
        // EWC-LoRA keeps its Fisher (and depends on its job); EWC(nu) computes its own at the new start
        var ewc = plan.Job("ewc-lora-quiz-zoo-s1");
        Assert.Equal(plan.Job("ewc-lora-quiz-s1").Train!.Fisher, ewc.Train!.Fisher);
        Assert.Contains(ewc.DependsOn, d => plan.Job(d).Kind == JobKind.Fisher);
        Assert.Equal(c.General.Train, plan.Job("ewc-nu-quiz-zoo-s1").Train!.GeneralData);
        // results.csv gets the earlier task as a probe column: its accuracy after the later stage
        Assert.Equal(["facts", "quiz"], ExperimentResults.ProbeColumns(c));
    }

    [Fact]
    public void ALongerSequenceChainsItsStagesAndEveryStageButTheLastRecords()
    {
        using var tmp = new TempDir();
        var c = ExperimentConfig.Load(Config(tmp, Zoo + "\n" + Wild, "[alora]"));
        var plan = ExperimentPlanner.Plan(c, tmp.File("out"));
        var zoo = plan.Job("alora-quiz-zoo-s2");
        var wild = plan.Job("alora-quiz-zoo-wild-s2");
        Assert.True(zoo.Train!.RecordImportance);
        Assert.False(wild.Train!.RecordImportance);
        Assert.Equal(plan.RunDir(zoo.Name), wild.Train.InitAdapter);
        Assert.Equal(["wild", "quiz", "zoo", "facts"], wild.Eval!.Tasks.Select(t => t.Name));
        Assert.Equal([1.0, 2.0], plan.Entries.Where(e => e.Sweep == ExperimentPlanner.SequenceSweep && e.Seed == 2).Select(e => e.SweepValue!.Value));
        Assert.Equal(["facts", "quiz", "zoo"], ExperimentResults.ProbeColumns(c));
    }

    [Theory]
    [InlineData("  - {name: quiz, task: mcq, train: z.jsonl, test: zt.jsonl}", "[alora]", "two tasks are named 'quiz'")]
    [InlineData("  - {name: zoo, task: mcq, train: z.jsonl, test: missing.jsonl}", "[alora]", "sequence[0].test")]
    [InlineData(Zoo, "[base, lora-scaled]", "'sequence' continues trained adapters")]
    public void ABadSequenceIsAnErrorNamingIt(string sequence, string methods, string message)
    {
        using var tmp = new TempDir();
        var e = Assert.Throws<AloraException>(() => ExperimentConfig.Load(Config(tmp, sequence, methods)));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }
}
