using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Alora.Data;
using Alora.Hub;
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
/// Every method is this one recipe with the hooks its <see cref="MethodSpec"/> adds to the stage.
/// </summary>
public static class FinetuneRecipe
{
    public static FinetuneResult Run(
        FinetuneOptions o,
        IProgress<TrainProgress>? progress = null,
        long? stopAfter = null,
        CancellationToken cancel = default
    )
    {
        o.Validate();
        o = WithFullPaths(o);
        if (o.Stage == Stage.Both)
            return RunBoth(o, progress, cancel);
        var runDir = o.Out;
        var summaryPath = Path.Combine(runDir, RunFolder.SummaryFile);
        RunFolder.CheckFresh(runDir, o);
        RunFolder.CheckResumeOptions(runDir, o);
        if (File.Exists(summaryPath))
            return ReadFinished(runDir);

        var device = TorchRuntime.ParseDevice(o.Device);
        using var model = ModelLoader.Load(o.Model, device, o.Dtype.ToScalarType(), o.BaseWeightsDtype == ComputeDtype.BFloat16);
        var (adapters, lora) = Adapters(o, model);
        var data = Load(o.Data, o.Task, o, model);
        var cfg = o.ToTrainConfig();
        int domainPerStep = cfg.BatchSize - cfg.ReplayPerStep;
        if (data.Count < domainPerStep)
            throw new AloraException(
                $"{o.Data}: {data.Count} training sequence(s) is fewer than one batch of {domainPerStep}{(cfg.ReplayPerStep > 0 ? " domain sequences" : "")}: add data or lower --batch-size"
            );
        // replay: k sequences of every batch from the general text, read as the data is (same loader, same --max-length)
        var general = cfg.ReplayPerStep > 0 ? Load(o.GeneralData!, null, o, model) : null;
        if (general is { Count: 0 })
            throw new AloraException($"{o.GeneralData}: --general-data holds no training sequence to replay");
        var hooks = MethodRegistry.Get(o.Method).Stages[o.Stage](new MethodContext(o, o.Stage, runDir, model, adapters)).ToList();
        try
        {
            using var trainer = new Trainer(model, adapters, data, cfg, runDir, hooks, general);
            Directory.CreateDirectory(runDir);
            bool resumed = o.Resume && trainer.TryResume();
            if (!resumed)
            {
                trainer.StartFresh(); // --resume before any checkpoint: step 0 again, with nothing of the first attempt left
                WriteConfig(runDir, o, lora, trainer, data, general, model);
            }
            var clock = Stopwatch.StartNew();
            var history = trainer.Train(progress, stopAfter, cancel);
            var last = history.Count > 0 ? history[^1] : null;
            if (trainer.Step < trainer.TotalSteps)
                return new FinetuneResult(runDir, trainer.Step, last?.Loss ?? double.NaN, clock.Elapsed.TotalSeconds, history);
            PeftAdapter.Save(runDir, adapters, lora, Path.GetFullPath(o.Model));
            foreach (var h in hooks.OfType<IRunArtifacts>())
                h.WriteArtifacts(runDir);
            double seconds = last?.ElapsedSeconds ?? clock.Elapsed.TotalSeconds;
            var summary = new JsonObject
            {
                ["steps"] = trainer.Step,
                ["final_loss"] = last?.Loss,
                ["final_task_loss"] = last?.TaskLoss,
                ["train_seconds"] = seconds,
                ["sequences"] = data.Count,
                ["target_tokens_per_epoch"] = data.Sum(d => (long)d.TargetCount),
                ["peak_working_set_bytes"] = Process.GetCurrentProcess().PeakWorkingSet64,
            };
            if (MethodRegistry.Get(o.Method).ReplaysGeneralData)
                (summary["replay_fraction"], summary["replay_per_step"]) = (o.ReplayFraction, cfg.ReplayPerStep);
            AtomicFile.WriteAllText(summaryPath, summary.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
            return new FinetuneResult(runDir, trainer.Step, last?.Loss ?? double.NaN, seconds, history);
        }
        finally
        {
            foreach (var h in hooks)
                h.Dispose();
        }
    }

    /// <summary>
    /// Both stages of a method: stage nu on --general-data into OUT/general (importance recorded for
    /// alora), then stage mu on --data into OUT/domain, continuing that adapter (LoRA(nu+mu) for lora).
    /// </summary>
    static FinetuneResult RunBoth(FinetuneOptions o, IProgress<TrainProgress>? progress, CancellationToken cancel)
    {
        var general = o with { Stage = Stage.General, Data = o.GeneralData!, Task = null, Out = Path.Combine(o.Out, "general"), Importance = null };
        var nu = Run(general, progress, null, cancel);
        var domain = o with { Stage = Stage.Domain, InitAdapter = nu.RunDir, Out = Path.Combine(o.Out, "domain") };
        var mu = Run(domain, progress, null, cancel);
        return mu with { TrainSeconds = nu.TrainSeconds + mu.TrainSeconds };
    }

    /// <summary>A data file read into training sequences whose token ids the model knows.</summary>
    static List<TrainingExample> Load(string path, string? task, FinetuneOptions o, CausalLM model)
    {
        var data = TrainingFiles.Load(path, task, o.Model, o.MaxLength);
        if (data.Any(d => d.Ids.Any(t => t < 0 || t >= model.VocabSize)))
            throw new AloraException($"{path}: a token id lies outside the model's vocabulary [0, {model.VocabSize})");
        return data;
    }

    static FinetuneResult ReadFinished(string runDir)
    {
        var s = JsonFile.Read(Path.Combine(runDir, "summary.json"));
        return new FinetuneResult(
            runDir,
            s["steps"]!.GetValue<long>(),
            s["final_loss"]?.GetValue<double>() ?? double.NaN,
            s["train_seconds"]!.GetValue<double>(),
            []
        );
    }

    /// <summary>
    /// Every path option made absolute, so config.json names the files wherever the run is resumed from; hub names
    /// (ORG/NAME, hf://datasets/…) become their paths in the Hugging Face cache.
    /// </summary>
    static FinetuneOptions WithFullPaths(FinetuneOptions o)
    {
        static string? Full(string? p) => string.IsNullOrWhiteSpace(p) ? p : Path.GetFullPath(p);
        static string? Data(string? p) => p is null ? null : Full(HubFiles.DataFile(p));
        return o with
        {
            Model = Full(HubFiles.ModelFolder(o.Model))!,
            Data = Data(o.Data)!,
            Out = Full(o.Out)!,
            GeneralData = Data(o.GeneralData),
            InitAdapter = o.InitAdapter is null ? null : Full(HubFiles.AdapterFolder(o.InitAdapter)),
            Importance = Full(o.Importance),
            PriorImportance = Full(o.PriorImportance),
            Fisher = Full(o.Fisher),
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
        var lora = o.ToLoraConfig();
        return (LoraInjector.Inject(model, lora), lora);
    }

    static void WriteConfig(
        string runDir,
        FinetuneOptions o,
        LoraConfig lora,
        Trainer trainer,
        List<TrainingExample> data,
        List<TrainingExample>? general,
        CausalLM model
    )
    {
        var j = o.ToJson();
        j["resolved"] = new JsonObject
        {
            ["scaling"] = lora.Scaling,
            ["rank"] = lora.R,
            ["alpha"] = lora.Alpha,
            ["target_modules"] = new JsonArray(lora.TargetModules.Select(t => (JsonNode)JsonValue.Create(t)!).ToArray()),
            ["sequences"] = data.Count,
            ["steps_per_epoch"] = trainer.StepsPerEpoch,
            ["total_steps"] = trainer.TotalSteps,
            ["architecture"] = model.Architecture,
            ["trainable_parameters"] = model.parameters().Where(p => p.requires_grad).Sum(p => p.numel()),
        };
        if (MethodRegistry.Get(o.Method).ReplaysGeneralData)
        {
            // k general and B - k domain sequences per step; epochs count passes over the domain data
            j["resolved"]!["replay_per_step"] = o.ReplayPerStep;
            j["resolved"]!["domain_per_step"] = o.BatchSize - o.ReplayPerStep;
            j["resolved"]!["general_sequences"] = general?.Count ?? 0;
        }
        AtomicFile.WriteAllText(Path.Combine(runDir, "config.json"), j.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }
}
