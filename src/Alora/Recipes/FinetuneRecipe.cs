using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Alora.Data;
using Alora.IO;
using Alora.Lora;
using Alora.Models;
using Alora.Runtime;
using Alora.Tokenization;
using Alora.Training;

namespace Alora.Recipes;

/// <summary>What a finished run reports.</summary>
public sealed record FinetuneResult(string RunDir, long Steps, double FinalLoss, double TrainSeconds, IReadOnlyList<StepMetrics> History);

/// <summary>
/// The fine-tuning recipe: model -> adapter (fresh or continued) -> data -> method hooks -> explicit
/// training loop -> run folder (config.json, metrics.jsonl, checkpoints/, the PEFT adapter, summary.json).
/// Every method (LoRA, rsLoRA, ALoRA's two stages, EWC-LoRA) is this one recipe with different hooks.
/// </summary>
public static class FinetuneRecipe
{
    public static FinetuneResult Run(FinetuneOptions o, IProgress<TrainProgress>? progress = null, long? stopAfter = null, CancellationToken cancel = default)
    {
        o.Validate();
        o = WithFullPaths(o);
        if (o.Stage == "both") return RunBoth(o, progress, cancel);
        var runDir = o.Out;
        var summaryPath = Path.Combine(runDir, RunFolder.SummaryFile);
        RunFolder.CheckFresh(runDir, o);
        RunFolder.CheckResumeOptions(runDir, o);
        if (File.Exists(summaryPath)) return ReadFinished(runDir);

        var device = TorchRuntime.ParseDevice(o.Device);
        using var model = ModelLoader.Load(o.Model, device, TorchRuntime.ParseDType(o.Dtype));
        var (adapters, lora) = Adapters(o, model);
        var data = LoadData(o);
        if (data.Any(d => d.Ids.Any(t => t < 0 || t >= model.VocabSize)))
            throw new AloraException($"{o.Data}: a token id lies outside the model's vocabulary [0, {model.VocabSize})");
        var cfg = o.ToTrainConfig();
        if (data.Count < cfg.BatchSize)
            throw new AloraException($"{o.Data}: {data.Count} training sequence(s) is fewer than one batch of {cfg.BatchSize}: add data or lower --batch-size");
        var hooks = Methods.MethodHooks.Create(o, runDir, model, adapters, data);
        try
        {
            using var trainer = new Trainer(model, adapters, data, cfg, runDir, hooks);
            Directory.CreateDirectory(runDir);
            bool resumed = o.Resume && trainer.TryResume();
            if (!resumed)
            {
                trainer.StartFresh(); // --resume before any checkpoint: step 0 again, with nothing of the first attempt left
                WriteConfig(runDir, o, lora, trainer, data, model);
            }
            var clock = Stopwatch.StartNew();
            var history = trainer.Train(progress, stopAfter, cancel);
            var last = history.Count > 0 ? history[^1] : null;
            if (trainer.Step < trainer.TotalSteps) return new FinetuneResult(runDir, trainer.Step, last?.Loss ?? double.NaN, clock.Elapsed.TotalSeconds, history);
            PeftAdapter.Save(runDir, adapters, lora, Path.GetFullPath(o.Model));
            foreach (var h in hooks.OfType<IRunArtifacts>()) h.WriteArtifacts(runDir);
            double seconds = last?.ElapsedSeconds ?? clock.Elapsed.TotalSeconds;
            var summary = new JsonObject
            {
                ["steps"] = trainer.Step, ["final_loss"] = last?.Loss, ["final_task_loss"] = last?.TaskLoss,
                ["train_seconds"] = seconds, ["sequences"] = data.Count, ["target_tokens_per_epoch"] = data.Sum(d => (long)d.TargetCount),
                ["peak_working_set_bytes"] = Process.GetCurrentProcess().PeakWorkingSet64,
            };
            AtomicFile.WriteAllText(summaryPath, summary.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
            return new FinetuneResult(runDir, trainer.Step, last?.Loss ?? double.NaN, seconds, history);
        }
        finally
        {
            foreach (var h in hooks) h.Dispose();
        }
    }

    /// <summary>
    /// Both stages of a method: stage nu on --general-data into OUT/general (importance recorded for
    /// alora), then stage mu on --data into OUT/domain, continuing that adapter (LoRA(nu+mu) for lora).
    /// </summary>
    static FinetuneResult RunBoth(FinetuneOptions o, IProgress<TrainProgress>? progress, CancellationToken cancel)
    {
        var general = o with { Stage = "general", Data = o.GeneralData!, Task = null, Out = Path.Combine(o.Out, "general"), Importance = null };
        var nu = Run(general, progress, null, cancel);
        var domain = o with { Stage = "domain", InitAdapter = nu.RunDir, Out = Path.Combine(o.Out, "domain") };
        var mu = Run(domain, progress, null, cancel);
        return mu with { TrainSeconds = nu.TrainSeconds + mu.TrainSeconds };
    }

    static FinetuneResult ReadFinished(string runDir)
    {
        var s = HfConfig.ReadJson(Path.Combine(runDir, "summary.json"));
        return new FinetuneResult(runDir, s["steps"]!.GetValue<long>(), s["final_loss"]?.GetValue<double>() ?? double.NaN, s["train_seconds"]!.GetValue<double>(), []);
    }

    /// <summary>Every path option made absolute, so config.json names the files wherever the run is resumed from.</summary>
    static FinetuneOptions WithFullPaths(FinetuneOptions o)
    {
        static string? Full(string? p) => string.IsNullOrWhiteSpace(p) ? p : Path.GetFullPath(p);
        return o with
        {
            Model = Full(o.Model)!, Data = Full(o.Data)!, Out = Full(o.Out)!, GeneralData = Full(o.GeneralData), InitAdapter = Full(o.InitAdapter),
            Importance = Full(o.Importance), PriorImportance = Full(o.PriorImportance), Fisher = Full(o.Fisher),
        };
    }

    /// <summary>A fresh adapter from the options, or the adapter of --init-adapter continued (its rank, alpha, targets and scaling must match the options).</summary>
    /// <remarks>
    /// The generator is seeded from --seed in both cases, so a run's dropout draws never depend on what ran
    /// before it in the process (an experiment that skips finished runs gets the same numbers as one that ran them).
    /// </remarks>
    static (IReadOnlyList<AdaptedModule>, LoraConfig) Adapters(FinetuneOptions o, CausalLM model)
    {
        TorchSharp.torch.random.manual_seed(o.Seed);
        if (o.InitAdapter is { } init)
        {
            var (cfg, regex) = PeftAdapter.ReadConfig(init);
            RunFolder.CheckAdapterShape(o, cfg, regex);
            var adapters = PeftAdapter.Apply(model, init);
            return (adapters, cfg with { Dropout = o.Dropout });
        }
        var lora = new LoraConfig { R = o.Rank, Alpha = o.Alpha, Dropout = o.Dropout, TargetModules = o.TargetModules, UseRslora = o.IsRslora };
        return (LoraInjector.Inject(model, lora), lora);
    }

    /// <summary>
    /// --task: multiple-choice items become prompt + " " + correct answer (loss on the answer);
    /// JSONL with prompt/completion: loss on the completion; anything else: general text, packed.
    /// </summary>
    public static List<TrainingExample> LoadData(FinetuneOptions o)
    {
        var docs = o.Task is null && !IsPromptCompletion(o.Data) ? TextCorpus.Read(o.Data) : null;
        if (docs is not null && docs.All(d => d.InputIds is not null))
            return TrainingData.Pack(docs.Select(d => d.InputIds!), null, null, o.MaxLength); // pre-tokenized: used as given
        using var tok = TextTokenizer.Load(o.Model);
        if (o.Task is { } task)
            return TrainingData.PromptCompletion(McqDatasets.ToTrainingExamples(McqDatasets.Read(task, o.Data)).Select(q => (q.Prompt, q.Completion)), tok, o.MaxLength);
        if (IsPromptCompletion(o.Data))
            return TrainingData.PromptCompletion(QaCorpus.Read(o.Data).Select(q => (q.Prompt, q.Completion)), tok, o.MaxLength);
        var tokens = docs!.Select(d => d.InputIds ?? tok.Encode(d.Text!)).ToList();
        return TrainingData.Pack(tokens, tok.AddBos ? tok.BosId : null, tok.EosId, o.MaxLength);
    }

    static bool IsPromptCompletion(string path)
    {
        if (!path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase) || !File.Exists(path)) return false;
        var first = File.ReadLines(path).FirstOrDefault(l => !string.IsNullOrWhiteSpace(l));
        try
        {
            return first is not null && JsonNode.Parse(first) is JsonObject j && j.ContainsKey("prompt") && j.ContainsKey("completion");
        }
        catch (JsonException)
        {
            return false;
        }
    }

    static void WriteConfig(string runDir, FinetuneOptions o, LoraConfig lora, Trainer trainer, List<TrainingExample> data, CausalLM model)
    {
        var j = RunFolder.OptionsJson(o);
        j["resolved"] = new JsonObject
        {
            ["scaling"] = lora.Scaling, ["rank"] = lora.R, ["alpha"] = lora.Alpha,
            ["target_modules"] = new JsonArray(lora.TargetModules.Select(t => (JsonNode)JsonValue.Create(t)!).ToArray()),
            ["sequences"] = data.Count, ["steps_per_epoch"] = trainer.StepsPerEpoch, ["total_steps"] = trainer.TotalSteps,
            ["architecture"] = model.Architecture,
            ["trainable_parameters"] = model.parameters().Where(p => p.requires_grad).Sum(p => p.numel()),
        };
        AtomicFile.WriteAllText(Path.Combine(runDir, "config.json"), j.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    public static readonly JsonSerializerOptions JsonOptions = new() { PropertyNamingPolicy = JsonNamingPolicy.KebabCaseLower, WriteIndented = true };
}

/// <summary>A hook that leaves files in the run folder when the run finishes (importance, layer weights).</summary>
public interface IRunArtifacts
{
    void WriteArtifacts(string runDir);
}
