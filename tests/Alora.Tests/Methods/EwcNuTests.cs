using System.Text.Json.Nodes;
using Alora.Data;
using Alora.Experiments;
using Alora.IO;
using Alora.Lora;
using Alora.Methods;
using Alora.Recipes;
using Alora.Runtime;
using Alora.Tests.Cli;
using Alora.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Alora.Tests.Methods;

/// <summary>
/// ewc-nu (EWC anchored at stage nu): the Fisher at W0 + D_nu, the penalty lambda * sum F (D - D_nu)^2, the CLI run with
/// its fisher-nu.safetensors, and the experiment's plan.
/// </summary>
[Collection(TorchRngCollection.Name)]
public sealed class EwcNuTests
{
    static double[] Values(Tensor t) => EwcPenaltyChecks.Values(t);

    /// <summary>Per-sample mean next-token cross-entropy from the full logits [1,T,V] (every token but the first is a target).</summary>
    static Tensor SampleLoss(Alora.Models.LlamaForCausalLM m, TrainingExample ex)
    {
        using var scope = NewDisposeScope();
        var ids = tensor(ex.Ids.Select(t => (long)t).ToArray(), [1, ex.Ids.Length]); // [1,T]
        var logits = m.forward(ids); // [1,T,V]
        return nn.functional.cross_entropy(logits[0, ..^1], ids[0, 1..]).MoveToOuterDisposeScope(); // mean over T-1 targets
    }

    // Reference, independent of the LoRA layer: a plain copy of the model with W = W0 + s B A written into its weights by
    // hand, each sample's gradient of its mean CE w.r.t. W by autograd, squared and averaged in doubles. The estimator runs
    // on the LoRA-injected model (gradient w.r.t. the frozen W0). Tolerance: 1e-5 of the largest F (float32 rounding).
    // The Fisher at W0 differs from it by far more, so the comparison can fail.
    [Fact]
    public void TheFisherAtNuIsTheMeanSquaredPerSampleGradientAtW0PlusDnu()
    {
        using var adapted = TinyModels.Llama(hidden: 16, layers: 2);
        using var merged = TinyModels.Llama(hidden: 16, layers: 2); // the same W0 (same seed)
        random.manual_seed(11);
        var adapters = LoraInjector.Inject(adapted, new LoraConfig { R = 2, Alpha = 4 });
        using (no_grad())
            foreach (var a in adapters)
                a.Layer.lora_B.weight.normal_(0, 0.5);
        var data = FisherTests.RandomData(5, 12, seed: 17);
        var o = new FisherOptions
        {
            Samples = 5,
            MaxLength = 12,
            AtAdapters = true,
        };
        using var fisher = FisherEstimator.Estimate(adapted, data, o);
        Assert.Equal(adapters.Select(a => a.Path).Order(), fisher.Values.Keys.Order());
        Assert.Throws<AloraException>(() => FisherEstimator.Estimate(adapted, data, o with { AtAdapters = false }).Dispose());

        // W = W0 + s B A by hand in the plain model
        var modules = merged.named_modules().ToDictionary(x => x.name, x => x.module);
        var weights = new List<TorchSharp.Modules.Parameter>();
        using (no_grad())
            foreach (var a in adapters)
            {
                var w = ((Alora.Models.Linear)modules[a.Path]).weight;
                var ba = a.Layer.lora_B.weight.matmul(a.Layer.lora_A.weight); // [out,in]
                w.Plus_(ba.Times(a.Layer.Scaling));
                weights.Add(w);
            }
        foreach (var p in merged.parameters())
            p.requires_grad = false;
        foreach (var w in weights)
            w.requires_grad = true;
        var reference = weights.Select(w => new double[w.numel()]).ToList();
        foreach (var ex in data)
        {
            foreach (var w in weights)
                w.grad?.zero_();
            using (var loss = SampleLoss(merged, ex))
                loss.backward();
            for (int k = 0; k < weights.Count; k++)
            {
                var g = weights[k].grad!.data<float>().ToArray();
                for (int i = 0; i < g.Length; i++)
                    reference[k][i] += (double)g[i] * g[i] / data.Count;
            }
        }
        double max = reference.SelectMany(r => r).Max();
        Assert.True(max > 0);
        for (int k = 0; k < adapters.Count; k++)
        {
            var got = Values(fisher.Values[adapters[k].Path]);
            for (int i = 0; i < got.Length; i++)
                Assert.True(Math.Abs(got[i] - reference[k][i]) <= 1e-5 * max, $"{adapters[k].Path}[{i}]: {got[i]} vs {reference[k][i]}");
        }

        // the Fisher at W0 (a fresh model, no adapter) is another matrix: the test would notice an estimate at W0
        using var plain = TinyModels.Llama(hidden: 16, layers: 2);
        using var atW0 = FisherEstimator.Estimate(plain, data, o with { AtAdapters = false });
        double largestGap = adapters.Max(a => Values(atW0.Values[a.Path]).Zip(Values(fisher.Values[a.Path])).Max(x => Math.Abs(x.First - x.Second)));
        Assert.True(largestGap > 1e-2 * max, $"the Fisher at W0 differs by only {largestGap:G3} (largest F {max:G3})");
    }

    // P = lambda sum F (D - D_nu)^2 with D_nu = s B_nu A_nu taken when the regulariser is made; dP/dD = 2 lambda F (D - D_nu),
    /// <summary>A tiny float64 model whose adapters have moved (B != 0, as after stage nu) and a random Fisher for them.</summary>
    static (Alora.Models.CausalLM Model, IReadOnlyList<AdaptedModule> Adapters, DiagonalFisher Fisher) AtNu(long seed)
    {
        var model = TinyModels.Llama(hidden: 16, layers: 1);
        random.manual_seed(seed);
        var adapters = LoraInjector.Inject(model, new LoraConfig { R = 3, Alpha = 6 });
        model.to(ScalarType.Float64);
        using (no_grad())
            foreach (var a in adapters)
                a.Layer.lora_B.weight.normal_(0, 0.3); // D_nu != 0
        var fisher = new DiagonalFisher(
            adapters.ToDictionary(a => a.Path, a => rand([a.Layer.OutFeatures, a.Layer.InFeatures], ScalarType.Float64)),
            new FisherInfo()
        );
        return (model, adapters, fisher);
    }

    // P_ref = sum F D_nu^2 by hand; lambda = rho CE_0 / P_ref at the first step; a move from D_nu back to 0 then costs rho CE_0
    [Fact]
    public void ARelativeStrengthSetsLambdaFromTheFirstLoss()
    {
        var (model, adapters, fisher) = AtNu(6);
        using var _m = model;
        using var _f = fisher;
        double pRef = 0;
        foreach (var a in adapters)
        {
            var A = Values(a.Layer.lora_A.weight);
            var B = Values(a.Layer.lora_B.weight);
            var F = Values(fisher.Values[a.Path]);
            int r = (int)a.Layer.lora_A.weight.shape[0],
                n = (int)a.Layer.InFeatures,
                o = (int)a.Layer.OutFeatures;
            for (int i = 0; i < o; i++)
            for (int j = 0; j < n; j++)
            {
                double d = 0;
                for (int k = 0; k < r; k++)
                    d += B[i * r + k] * A[k * n + j];
                d *= a.Layer.Scaling;
                pRef += F[i * n + j] * d * d;
            }
        }
        const double rho = 0.05,
            ce0 = 2.5;
        using var ewc = new EwcRegularizer(fisher, adapters, 0.7, anchorAtCurrentDelta: true, relativeStrength: rho);
        Assert.Equal(pRef, ewc.ReferencePenalty!.Value, pRef * 1e-10);
        var ctx = new StepContext { Adapters = adapters, TaskLoss = ce0 };
        using (var p0 = ewc.Penalty(ctx)!)
            Assert.Equal(0.0, p0.item<double>());
        Assert.Equal(rho * ce0 / pRef, ewc.Lambda, ewc.Lambda * 1e-12);
        // a resumed run (made at the same D_nu) takes lambda from the checkpoint
        using (var resumed = new EwcRegularizer(fisher, adapters, 0.7, anchorAtCurrentDelta: true, relativeStrength: rho))
        {
            resumed.LoadState(ewc.State().ToDictionary(kv => kv.Key, kv => kv.Value));
            Assert.Equal(ewc.Lambda, resumed.Lambda);
        }
        using (no_grad())
            foreach (var a in adapters)
                a.Layer.lora_B.weight.zero_();
        using (var p = ewc.Penalty(ctx)!)
            Assert.Equal(rho * ce0, p.item<double>(), rho * ce0 * 1e-9);
        // at W0 there is no general-stage move to measure against
        Assert.Throws<AloraException>(() => new EwcRegularizer(fisher, adapters, 0.7, relativeStrength: rho));
    }

    // dP/dA = s B^T dP/dD, dP/dB = s dP/dD A^T: loops in doubles over float64 tensors (1e-10 relative), central differences
    // (h = 1e-5, 1e-7 relative). P is exactly 0 when stage mu starts.
    [Fact]
    public void TheAnchoredPenaltyIsLambdaTimesFTimesTheSquaredChangeSinceNu()
    {
        var (model, adapters, fisher) = AtNu(5);
        using var _m = model;
        using var _f = fisher;
        var aNu = adapters.Select(a => Values(a.Layer.lora_A.weight)).ToList();
        var bNu = adapters.Select(a => Values(a.Layer.lora_B.weight)).ToList();
        const double lambda = 0.7;
        using var ewc = new EwcRegularizer(fisher, adapters, lambda, anchorAtCurrentDelta: true);
        Assert.True(ewc.Anchored);
        using (var p0 = ewc.Compute())
            Assert.Equal(0.0, p0.item<double>());

        // stage mu moves A and B
        using (no_grad())
            foreach (var a in adapters)
            {
                a.Layer.lora_A.weight.Plus_(randn_like(a.Layer.lora_A.weight).Times(0.05));
                a.Layer.lora_B.weight.Plus_(randn_like(a.Layer.lora_B.weight).Times(0.05));
            }
        double expected = 0;
        var gradA = new List<double[]>();
        var gradB = new List<double[]>();
        for (int m = 0; m < adapters.Count; m++)
        {
            var l = adapters[m].Layer;
            int r = l.Rank,
                o = (int)l.OutFeatures,
                n = (int)l.InFeatures;
            double s = l.Scaling;
            var A = Values(l.lora_A.weight);
            var B = Values(l.lora_B.weight);
            var F = Values(fisher.Values[adapters[m].Path]);
            var G = new double[o * n];
            for (int i = 0; i < o; i++)
            for (int j = 0; j < n; j++)
            {
                double d = 0;
                for (int k = 0; k < r; k++)
                    d += s * B[i * r + k] * A[k * n + j] - s * bNu[m][i * r + k] * aNu[m][k * n + j];
                expected += lambda * F[i * n + j] * d * d;
                G[i * n + j] = 2 * lambda * F[i * n + j] * d;
            }
            var gA = new double[r * n];
            var gB = new double[o * r];
            for (int k = 0; k < r; k++)
            for (int j = 0; j < n; j++)
            for (int i = 0; i < o; i++)
                gA[k * n + j] += s * B[i * r + k] * G[i * n + j];
            for (int i = 0; i < o; i++)
            for (int k = 0; k < r; k++)
            for (int j = 0; j < n; j++)
                gB[i * r + k] += s * G[i * n + j] * A[k * n + j];
            gradA.Add(gA);
            gradB.Add(gB);
        }
        Assert.True(expected > 0);
        EwcPenaltyChecks.ValueAndGradients(ewc, adapters, expected, gradA, gradB);
    }

    static List<JsonObject> Metrics(string run) =>
        File.ReadAllLines(Path.Combine(run, "metrics.jsonl")).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();

    /// <summary>A general-stage LoRA run (rank 4, alpha 8) on <paramref name="general"/>.</summary>
    static string TrainNu(string model, string general, string run)
    {
        var (code, _, err) = CliRunner.Run(
            "train",
            "--model",
            model,
            "--data",
            general,
            "--out",
            run,
            "--stage",
            "general",
            "--max-steps",
            "3",
            "--batch-size",
            "4",
            "--max-length",
            "32",
            "--lr",
            "0.05",
            "--rank",
            "4",
            "--alpha",
            "8"
        );
        Assert.True(code == 0, err);
        return run;
    }

    static string[] TrainMu(string model, string domain, string run, params string[] extra) =>
        [
            "train",
            "--model",
            model,
            "--data",
            domain,
            "--out",
            run,
            "--method",
            "ewc-nu",
            "--max-steps",
            "4",
            "--batch-size",
            "4",
            "--max-length",
            "32",
            "--lr",
            "0.05",
            "--dropout",
            "0",
            "--checkpoint-every",
            "2",
            .. extra,
        ];

    // The CLI: stage mu writes fisher-nu.safetensors (samples as --fisher-samples, the adapted modules), logs ewc_penalty
    // (0 at the first step, where D = D_nu; then the loss minus the task loss), and a run stopped after step 3 and resumed
    // reads that file (not rewritten) and ends with the uninterrupted run's numbers (1e-9).
    [Fact]
    public void EwcNuTrainsFromTheCliWritesItsFisherAndResumesWithIt()
    {
        using var tmp = new TempDir();
        var model = TinyModels.SaveLlama(tmp.File("model"));
        var general = TinyModels.WriteIdsJsonl(tmp.File("general.jsonl"), 16, 32, seed: 5);
        var domain = TinyModels.WriteIdsJsonl(tmp.File("domain.jsonl"), 16, 32, seed: 9);
        var nu = TrainNu(model, general, tmp.File("nu"));

        var run = tmp.File("mu");
        string[] own = ["--init-adapter", nu, "--general-data", general, "--ewc-lambda", "1000", "--fisher-samples", "6"];
        var (code, _, err) = CliRunner.Run(TrainMu(model, domain, run, own));
        Assert.True(code == 0, err);
        var file = SafeTensorsFile.Open(Path.Combine(run, EwcNuSpec.FisherFile));
        Assert.Equal(4, file.Entries.Count); // q_proj and v_proj of 2 layers
        Assert.Equal("6", file.Metadata["samples"]);
        Assert.Equal("32", file.Metadata["max_length"]);
        var metrics = Metrics(run);
        Assert.Equal(4, metrics.Count);
        Assert.Equal(0.0, metrics[0]["ewc_penalty"]!.GetValue<double>()); // D = D_nu at the first step
        double last = metrics[3]["ewc_penalty"]!.GetValue<double>();
        Assert.True(last > 0);
        Assert.Equal(last, metrics[3]["loss"]!.GetValue<double>() - metrics[3]["task_loss"]!.GetValue<double>(), 1e-6);
        var ewc = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "ewc.json")))!;
        Assert.Equal("ewc-nu", ewc["method"]!.GetValue<string>());
        Assert.Equal(6, ewc["fisher_samples"]!.GetValue<int>());

        // interrupted after step 3 (checkpoint at 2), its Fisher file made old, then resumed from the CLI
        var parted = tmp.File("parted");
        var o = new FinetuneOptions
        {
            Model = model,
            Data = domain,
            Out = parted,
            Method = FinetuneMethod.EwcNu,
            InitAdapter = nu,
            GeneralData = general,
            EwcLambda = 1000,
            FisherSamples = 6,
            MaxSteps = 4,
            BatchSize = 4,
            MaxLength = 32,
            Lr = 0.05,
            Dropout = 0,
            CheckpointEvery = 2,
            Rank = 4,
            Alpha = 8,
        };
        FinetuneRecipe.Run(o, stopAfter: 3);
        var fisherPath = Path.Combine(parted, EwcNuSpec.FisherFile);
        var old = new DateTime(2001, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        File.SetLastWriteTimeUtc(fisherPath, old);
        var (c2, _, e2) = CliRunner.Run("train", "--out", parted, "--resume");
        Assert.True(c2 == 0, e2);
        Assert.Equal(old, File.GetLastWriteTimeUtc(fisherPath)); // read, not recomputed
        var resumed = Metrics(parted);
        Assert.Equal(4, resumed[^1]["step"]!.GetValue<long>());
        Assert.Equal(last, resumed[^1]["ewc_penalty"]!.GetValue<double>(), 1e-9);
        Assert.Equal(metrics[3]["task_loss"]!.GetValue<double>(), resumed[^1]["task_loss"]!.GetValue<double>(), 1e-9);
    }

    [Fact]
    public void EwcNuWithoutItsAdapterOrItsGeneralTextFailsNamingTheOption()
    {
        using var tmp = new TempDir();
        var model = TinyModels.SaveLlama(tmp.File("model"));
        var general = TinyModels.WriteIdsJsonl(tmp.File("general.jsonl"), 8, 32, seed: 5);
        var domain = TinyModels.WriteIdsJsonl(tmp.File("domain.jsonl"), 8, 32, seed: 9);
        var (c1, _, e1) = CliRunner.Run(TrainMu(model, domain, tmp.File("a"), "--general-data", general));
        Assert.Equal(1, c1);
        Assert.Contains("--init-adapter", e1);
        var nu = TrainNu(model, general, tmp.File("nu"));
        var (c2, _, e2) = CliRunner.Run(TrainMu(model, domain, tmp.File("b"), "--init-adapter", nu));
        Assert.Equal(1, c2);
        Assert.Contains("--general-data", e2);
        var (c3, _, e3) = CliRunner.Run(TrainMu(model, domain, tmp.File("c"), "--init-adapter", nu, "--general-data", general, "--stage", "general"));
        Assert.Equal(1, c3);
        Assert.Contains("no general stage", e3);
        var (c4, _, e4) = CliRunner.Run(
            TrainMu(model, domain, tmp.File("d"), "--init-adapter", nu, "--general-data", general, "--fisher-samples", "0")
        );
        Assert.Equal(1, c4);
        Assert.Contains("--fisher-samples must be at least 1", e4);
    }

    // The plan: ewc-nu's domain job continues the seed's shared general run (its dependency and its init-adapter), reads
    // general.train as general-data, and takes fisher-samples from the fisher section unless its overrides state them.
    [Fact]
    public void TheExperimentPlansEwcNuOnTheSharedGeneralRunWithTheGeneralText()
    {
        using var tmp = new TempDir();
        TinyModels.SaveLlama(tmp.File("model"));
        TinyModels.WriteIdsJsonl(tmp.File("general.jsonl"), 8, 32, seed: 5);
        File.WriteAllText(tmp.File("heldout.txt"), "some held-out text\n");
        var quiz = """{"question": "What color is the sky?", "choices": ["blue", "red"], "answer": 0}""";
        File.WriteAllLines(tmp.File("quiz.jsonl"), [quiz, quiz]);
        string Yaml(string extra)
        {
            var path = tmp.File("experiment.yaml");
            File.WriteAllText(
                path,
                $"""
                model: model
                general: {"{"}train: general.jsonl, heldout: heldout.txt{"}"}
                domain:
                  - {"{"}name: quiz, task: mcq, train: quiz.jsonl, test: quiz.jsonl{"}"}
                methods: [alora, ewc-nu]
                seeds: [1]
                train: {"{"}rank: 4, alpha: 8, max-steps: 2, max-length: 32{"}"}
                fisher: {"{"}samples: 12{"}"}
                {extra}
                """
            );
            return path;
        }
        var plan = ExperimentPlanner.Plan(ExperimentConfig.Load(Yaml("")), tmp.File("out"));
        var job = plan.Job("ewc-nu-quiz-s1");
        Assert.Equal(["general-s1"], job.DependsOn);
        Assert.Equal(plan.Job("alora-quiz-s1").DependsOn, job.DependsOn); // one general run serves both
        Assert.Equal(FinetuneMethod.EwcNu, job.Train!.Method);
        Assert.Equal(Path.Combine(tmp.File("out"), "runs", "general-s1"), job.Train.InitAdapter);
        Assert.Equal(tmp.File("general.jsonl"), job.Train.GeneralData);
        Assert.Equal(12, job.Train.FisherSamples);
        Assert.Null(plan.Job("alora-quiz-s1").Train!.GeneralData);
        Assert.DoesNotContain(plan.Jobs, j => j.Kind == JobKind.Fisher);
        Assert.Equal(12, job.Identity["options"]!["fisher-samples"]!.GetValue<int>());
        Assert.False(plan.Job("alora-quiz-s1").Identity["options"]!.AsObject().ContainsKey("fisher-samples")); // identities of other jobs unchanged

        var overridden = ExperimentPlanner.Plan(ExperimentConfig.Load(Yaml("overrides:\n  ewc-nu: {fisher-samples: 5}")), tmp.File("out"));
        Assert.Equal(5, overridden.Job("ewc-nu-quiz-s1").Train!.FisherSamples);
        var ex = Assert.Throws<AloraException>(() => ExperimentConfig.Load(Yaml("domain-stage: {general-data: x.txt}")));
        Assert.Contains("set by the experiment", ex.Message);
    }
}
