using System.Text.Json.Nodes;
using Alora.Demo;
using Alora.Experiments;
using Alora.Recipes;
using Alora.Tests.Cli;

namespace Alora.Tests.Experiments;

/// <summary>
/// lora-scaled in an experiment, on the in-memory tiny Llama with a word-level tokenizer of the quiz (no fixtures):
/// its rows evaluate the same seed's lora-mu adapter at beta, planned as an evaluation after lora-mu's domain run,
/// which is trained even when lora-mu is not among the methods.
/// </summary>
[Collection(TorchRngCollection.Name)]
public sealed class AdapterScaleExperimentTests
{
    static readonly (string Obj, string Color)[] Facts =
    [
        ("apple", "red"),
        ("leaf", "green"),
        ("sky", "blue"),
        ("sun", "yellow"),
        ("coal", "black"),
        ("snow", "white"),
    ];

    static readonly string[] Colors = ["red", "green", "blue", "yellow", "black", "white"];

    static List<string> Quiz(int count, int offset) =>
        [
            .. Enumerable
                .Range(0, count)
                .Select(i =>
                {
                    var (obj, color) = Facts[(i + offset) % Facts.Length];
                    var choices = Colors.Where(c => c != color).Skip(i % 3).Take(3).ToList();
                    int at = (i + offset) % 4;
                    choices.Insert(at, color);
                    return new JsonObject
                    {
                        ["question"] = $"What color is the {obj}?",
                        ["choices"] = new JsonArray([.. choices.Select(c => (JsonNode)JsonValue.Create(c)!)]),
                        ["answer"] = at,
                    }.ToJsonString();
                }),
        ];

    /// <summary>The data, a tiny Llama with a word-level tokenizer of its words, and experiment.yaml; returns the YAML's path.</summary>
    internal static string WriteExperiment(string dir, string methods, string overrides = "", string seeds = "[1]")
    {
        var train = Quiz(12, 0);
        var test = Quiz(6, 3);
        string[] heldout = ["the sky is blue and the sun is yellow.", "snow is white, coal is black.", "a green leaf and a red apple."];
        File.WriteAllLines(Path.Combine(dir, "quiz-train.jsonl"), train);
        File.WriteAllLines(Path.Combine(dir, "quiz-test.jsonl"), test);
        File.WriteAllLines(Path.Combine(dir, "heldout.txt"), heldout);
        var words = WordLevelTokenizer.Collect([.. train, .. test, .. heldout]);
        var vocab = WordLevelTokenizer.BuildVocab(words);
        var model = TinyModels.SaveLlama(Path.Combine(dir, "model"), vocab: vocab.Count);
        File.WriteAllText(Path.Combine(model, "tokenizer.json"), WordLevelTokenizer.TokenizerJson(vocab));
        File.WriteAllText(Path.Combine(model, "tokenizer_config.json"), WordLevelTokenizer.TokenizerConfigJson(128));
        var yaml = Path.Combine(dir, "experiment.yaml");
        File.WriteAllText(
            yaml,
            $"""
            model: model
            general:
              heldout: heldout.txt
            domain:
              - name: quiz
                task: mcq
                train: quiz-train.jsonl
                test: quiz-test.jsonl
            methods: {methods}
            seeds: {seeds}
            train:
              rank: 2
              alpha: 4
              lr: 0.05
              batch-size: 4
              micro-batch-size: 4
              max-steps: 3
              max-length: 32
              checkpoint-every: 100
            eval:
              limit: 6
            {overrides}
            """
        );
        return yaml;
    }

    [Fact]
    public void LoraScaledPlansLoraMusDomainRunAndAnEvaluationPerSeed()
    {
        using var tmp = new TempDir();
        var yaml = WriteExperiment(tmp.Path, "[base, lora-scaled]", seeds: "[1, 2]");
        var c = ExperimentConfig.Load(yaml);
        Assert.Equal(0.5, ExperimentPlanner.AdapterScale(c, "lora-scaled"));
        var plan = ExperimentPlanner.Plan(c, tmp.File("out"));
        Assert.Equal(
            ["base", "lora-mu-quiz-s1", "lora-scaled-quiz-s1-beta0.5", "lora-mu-quiz-s2", "lora-scaled-quiz-s2-beta0.5"],
            plan.Jobs.Select(j => j.Name)
        );
        foreach (var seed in new[] { 1L, 2L })
        {
            var domain = plan.Job($"lora-mu-quiz-s{seed}");
            Assert.Equal((JobKind.Domain, "lora-mu", seed), (domain.Kind, domain.Method, domain.Seed));
            Assert.Equal(FinetuneMethod.Lora, domain.Train!.Method);
            Assert.Null(domain.Eval); // lora-mu is not in the methods: trained for lora-scaled, not evaluated
            var scaled = plan.Job($"lora-scaled-quiz-s{seed}-beta0.5");
            Assert.Equal((JobKind.Scaled, "lora-scaled", 0.5), (scaled.Kind, scaled.Method, scaled.AdapterScale));
            Assert.Equal([domain.Name], scaled.DependsOn);
            Assert.Equal(domain.Name, scaled.AdapterOf);
            Assert.Null(scaled.Train);
            Assert.NotNull(scaled.Eval);
        }
        Assert.Equal(["base", "base", "lora-scaled", "lora-scaled"], plan.Entries.Select(e => e.Method).Order());
        Assert.Equal(
            ["lora-scaled-quiz-s1-beta0.5", "lora-scaled-quiz-s2-beta0.5"],
            plan.Entries.Where(e => e.Method == "lora-scaled").Select(e => e.Run)
        );

        // with lora-mu in the methods, before or after lora-scaled, its run is the same and evaluated
        foreach (var methods in new[] { "[lora-scaled, lora-mu]", "[lora-mu, lora-scaled]" })
        {
            File.WriteAllText(yaml, File.ReadAllText(yaml).Replace("methods: [base, lora-scaled]", $"methods: {methods}", StringComparison.Ordinal));
            var both = ExperimentPlanner.Plan(ExperimentConfig.Load(yaml), tmp.File("out"));
            Assert.Single(both.Jobs, j => j.Kind == JobKind.Domain && j.Seed == 1);
            Assert.NotNull(both.Job("lora-mu-quiz-s1").Eval);
            Assert.Equal("lora-mu-quiz-s1", both.Entries.Single(e => e.Method == "lora-mu" && e.Seed == 1).Run);
            File.WriteAllText(yaml, File.ReadAllText(yaml).Replace($"methods: {methods}", "methods: [base, lora-scaled]", StringComparison.Ordinal));
        }
    }

    [Theory]
    [InlineData("overrides:\n  lora-scaled: {lr: 0.1}\n", "unknown key 'overrides.lora-scaled.lr': lora-scaled trains nothing")]
    [InlineData(
        "overrides:\n  lora-scaled: {adapter-scale: -1}\n",
        "overrides.lora-scaled.adapter-scale must be a finite number of at least 0 (got -1)"
    )]
    [InlineData("overrides:\n  lora-scaled: {adapter-scale: .nan}\n", "overrides.lora-scaled.adapter-scale")]
    [InlineData("overrides:\n  lora-scaled: {adapter-scale: half}\n", "overrides.lora-scaled.adapter-scale must be a number")]
    [InlineData("overrides:\n  lora-mu: {adapter-scale: 0.5}\n", "unknown key 'overrides.lora-mu.adapter-scale'")]
    public void BadAdapterScaleSettingsAreConfigurationErrors(string overrides, string message)
    {
        using var tmp = new TempDir();
        var yaml = WriteExperiment(tmp.Path, "[base, lora-scaled]", overrides);
        var (code, _, err) = CliRunner.Run("experiment", "--config", yaml, "--out", tmp.File("out"));
        Assert.True(code == 1, err);
        Assert.Contains(yaml, err);
        Assert.Contains(message, err);
        Assert.False(Directory.Exists(tmp.File("out")));
    }

    // Run at beta 1 with [base, lora-scaled], then in the same folder at beta 0 with lora-mu added: the second run trains
    // nothing (lora-mu's run is kept and now evaluated too). beta 1's row equals lora-mu's, beta 0's equals base's, exactly.
    [Fact]
    public void TheScaledRowsAreLoraMusAtOneAndBasesAtZero()
    {
        using var tmp = new TempDir();
        var yaml = WriteExperiment(tmp.Path, "[base, lora-scaled]", "overrides:\n  lora-scaled: {adapter-scale: 1}\n");
        var outDir = tmp.File("out");
        var first = Experiment.Run(ExperimentConfig.Load(yaml), outDir);
        Assert.Equal(1, first.Trained);
        Assert.Equal(2, first.Evaluated);
        Assert.Equal(["base", "lora-scaled"], first.Rows.Select(r => r.Method));
        var atOne = first.Rows.Single(r => r.Method == "lora-scaled");
        Assert.Equal(1.0, atOne.AdapterScale);
        Assert.Equal(2, atOne.Rank);
        Assert.NotNull(atOne.TrainSeconds); // the training of the adapter it scales
        Assert.False(File.Exists(Path.Combine(outDir, "runs", "lora-mu-quiz-s1", "eval.json")));
        var scaledEval = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "runs", atOne.Run, "eval.json")))!;
        Assert.Equal(1.0, scaledEval["adapter_scale"]!.GetValue<double>());
        Assert.Equal(Path.Combine(outDir, "runs", "lora-mu-quiz-s1"), scaledEval["adapter"]!.GetValue<string>());

        File.WriteAllText(
            yaml,
            File.ReadAllText(yaml)
                .Replace("methods: [base, lora-scaled]", "methods: [base, lora-mu, lora-scaled]", StringComparison.Ordinal)
                .Replace("adapter-scale: 1}", "adapter-scale: 0}", StringComparison.Ordinal)
        );
        var second = Experiment.Run(ExperimentConfig.Load(yaml), outDir);
        Assert.Equal(0, second.Trained);
        Assert.Equal(2, second.Evaluated); // lora-mu's evaluation and beta 0's
        Assert.Equal(["base", "lora-mu", "lora-scaled"], second.Rows.Select(r => r.Method));
        var baseRow = second.Rows.Single(r => r.Method == "base");
        var loraMu = second.Rows.Single(r => r.Method == "lora-mu");
        var atZero = second.Rows.Single(r => r.Method == "lora-scaled");
        Assert.Equal(0.0, atZero.AdapterScale);
        Assert.Null(loraMu.AdapterScale);
        Assert.Equal((loraMu.GeneralPpl, loraMu.Acc, loraMu.AccNorm), (atOne.GeneralPpl, atOne.Acc, atOne.AccNorm));
        Assert.Equal((baseRow.GeneralPpl, baseRow.Acc, baseRow.AccNorm), (atZero.GeneralPpl, atZero.Acc, atZero.AccNorm));
        Assert.NotEqual(baseRow.GeneralPpl, loraMu.GeneralPpl); // the adapter changed the model, so the two ends differ

        // results.csv holds the column, and the report lists the method by its display name
        var csv = File.ReadAllLines(second.ResultsCsv);
        Assert.Contains("adapter_scale", csv[0].Split(','));
        Assert.Equal(0.0, ExperimentResults.ReadCsv(second.ResultsCsv).Single(r => r.Method == "lora-scaled").AdapterScale);
        Assert.Contains("LoRA(μ)×β", File.ReadAllText(second.Report));
    }

    [Fact]
    public void AResultsCsvWithoutTheAdapterScaleColumnStillReads()
    {
        using var tmp = new TempDir();
        var path = tmp.File("results.csv");
        File.WriteAllText(
            path,
            "method,sweep,sweep_value,seed,task,general_ppl,acc,acc_norm,ewc_lambda,run\nlora-mu,,,1,quiz,12.5,0.5,0.25,,lora-mu-quiz-s1\n"
        );
        var row = Assert.Single(ExperimentResults.ReadCsv(path));
        Assert.Equal(("lora-mu", 12.5, 0.5), (row.Method, row.GeneralPpl, row.Acc));
        Assert.Null(row.AdapterScale);
        // and the column is written with the methods' own option columns, after ewc_lambda
        Assert.InRange(
            Array.IndexOf(ResultsCsvFile.Columns, "adapter_scale"),
            Array.IndexOf(ResultsCsvFile.Columns, "ewc_lambda") + 1,
            Array.IndexOf(ResultsCsvFile.Columns, "strength") - 1
        );
    }
}
