using System.Text.Json;
using Alora.Training;

namespace Alora.Recipes;

/// <summary>Every setting of a fine-tuning run; the CLI options and the YAML keys have these names in kebab-case.</summary>
public sealed record FinetuneOptions
{
    public string Model { get; init; } = "";
    public string Data { get; init; } = "";
    public string Out { get; init; } = "";
    /// <summary>lora | rslora | alora | alora-no-layer | ewc-lora</summary>
    public string Method { get; init; } = "lora";
    /// <summary>general (stage nu) | domain (stage mu) | both (general into OUT/general on --general-data, then domain into OUT/domain)</summary>
    public string Stage { get; init; } = "domain";
    /// <summary>General text for --stage both (stage nu); --data is the domain data.</summary>
    public string? GeneralData { get; init; }
    /// <summary>Read --data as this multiple-choice task (sciq, piqa, medmcqa, mcq) and train on prompt + correct answer.</summary>
    public string? Task { get; init; }
    public int Rank { get; init; } = 8;
    public double Alpha { get; init; } = 32;
    public double Dropout { get; init; } = 0.05;
    public IReadOnlyList<string> TargetModules { get; init; } = ["q_proj", "v_proj"];
    public bool Rslora { get; init; }
    public double Lr { get; init; } = 8e-4;
    public int BatchSize { get; init; } = 20;
    public int MicroBatchSize { get; init; } = 4;
    public int Epochs { get; init; } = 5;
    public int? MaxSteps { get; init; }
    public int MaxLength { get; init; } = 256;
    public long Seed { get; init; } = 42;
    public string Optimizer { get; init; } = "adamw";
    public string Schedule { get; init; } = "linear";
    public double WarmupRatio { get; init; } = 0.03;
    public double WeightDecay { get; init; }
    public double MaxGradNorm { get; init; } = 1.0;
    public int CheckpointEvery { get; init; } = 50;
    public bool Resume { get; init; }
    /// <summary>Continue the adapter of this run folder (or PEFT adapter folder) instead of a fresh one.</summary>
    public string? InitAdapter { get; init; }
    public string Device { get; init; } = "cpu";
    public string Dtype { get; init; } = "float32";

    // ALoRA (issue 4) and EWC-LoRA settings; read by the method hooks.
    public string? Importance { get; init; }
    public double Phi { get; init; } = 1e-3;
    public double Xi { get; init; } = 1e-3;
    public string SiVariant { get; init; } = "paper";
    public bool ClampOmega { get; init; } = true;
    public string LayerWeights { get; init; } = "softmax";
    public string? OmegaDtype { get; init; }
    /// <summary>Add the Omega of an earlier general stage (importance accumulates over tasks, eq. 15).</summary>
    public string? PriorImportance { get; init; }
    public string? Fisher { get; init; }
    public double EwcLambda { get; init; } = 1.0;
    public int FisherSamples { get; init; } = 256;
    public int FisherMaxLength { get; init; } = 256;

    [System.Text.Json.Serialization.JsonIgnore] public bool IsRslora => Rslora || Method == "rslora";

    public TrainConfig ToTrainConfig() => new()
    {
        Lr = Lr, BatchSize = BatchSize, MicroBatchSize = Math.Min(MicroBatchSize, BatchSize), Epochs = Epochs, MaxSteps = MaxSteps,
        MaxLength = MaxLength, Seed = Seed, WarmupRatio = WarmupRatio, WeightDecay = WeightDecay, MaxGradNorm = MaxGradNorm,
        CheckpointEvery = CheckpointEvery,
        Optimizer = Optimizer.ToLowerInvariant() switch
        {
            "adamw" => OptimizerKind.AdamW, "sgd" => OptimizerKind.Sgd,
            var o => throw new AloraException($"--optimizer '{o}' is not one of adamw, sgd"),
        },
        Schedule = Schedule.ToLowerInvariant() switch
        {
            "linear" => LrSchedule.Linear, "cosine" => LrSchedule.Cosine, "constant" => LrSchedule.Constant,
            var s => throw new AloraException($"--schedule '{s}' is not one of linear, cosine, constant"),
        },
    };

    public static readonly string[] Methods = ["lora", "rslora", "alora", "alora-no-layer", "ewc-lora"];

    public void Validate()
    {
        foreach (var p in typeof(FinetuneOptions).GetProperties().Where(p => p.PropertyType == typeof(double)))
            if (p.GetValue(this) is double v && !double.IsFinite(v))
                throw new AloraException($"--{JsonNamingPolicy.KebabCaseLower.ConvertName(p.Name)} must be a finite number (got {v})");
        if (string.IsNullOrWhiteSpace(Model)) throw new AloraException("--model is required");
        if (string.IsNullOrWhiteSpace(Data)) throw new AloraException("--data is required");
        if (string.IsNullOrWhiteSpace(Out)) throw new AloraException("--out is required");
        if (!Methods.Contains(Method)) throw new AloraException($"--method '{Method}' is not one of {string.Join(", ", Methods)}");
        if (Stage is not ("general" or "domain" or "both")) throw new AloraException($"--stage '{Stage}' is not one of general, domain, both");
        if (Stage == "both" && string.IsNullOrWhiteSpace(GeneralData)) throw new AloraException("--stage both needs --general-data (the stage-nu text) besides --data (the domain data)");
        ToTrainConfig().Validate();
    }
}
