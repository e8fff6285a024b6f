using Alora.Lora;
using Alora.Models;
using Alora.Recipes;
using Alora.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Alora.Methods;

/// <summary>
/// The hooks that turn the LoRA recipe into a method and stage:
/// lora, rslora: none; alora and alora-no-layer, stage general: importance recording (SI);
/// alora, stage domain: the penalty with the chosen layer weights; alora-no-layer, stage domain: uniform weights 1/M;
/// ewc-lora: EWC's penalty.
/// </summary>
public static class MethodHooks
{
    public static List<ITrainingHook> Create(FinetuneOptions o, string runDir, CausalLM model, IReadOnlyList<AdaptedModule> adapters, IReadOnlyList<TrainingExample> data) =>
        (o.Method, o.Stage) switch
        {
            ("lora" or "rslora", _) => [],
            ("alora" or "alora-no-layer", "general") => [Recorder(o, runDir, adapters)],
            ("alora" or "alora-no-layer", "domain") => [Regularizer(o, adapters)],
            ("ewc-lora", _) => [EwcRegularizer.FromOptions(o, model, adapters)],
            _ => throw new AloraException($"--method {o.Method} with --stage {o.Stage} is not available"),
        };

    public static string ImportanceOutput(FinetuneOptions o, string runDir) => o.Importance ?? Path.Combine(runDir, "importance.safetensors");

    static SiRecorder Recorder(FinetuneOptions o, string runDir, IReadOnlyList<AdaptedModule> adapters)
    {
        var variant = o.SiVariant.ToLowerInvariant() switch
        {
            "paper" => SiVariant.Paper, "exact" => SiVariant.Exact,
            _ => throw new AloraException($"--si-variant '{o.SiVariant}' is not one of paper, exact"),
        };
        var dtype = (o.OmegaDtype ?? "float32").ToLowerInvariant() switch
        {
            "float32" or "fp32" => ScalarType.Float32, "float16" or "fp16" => ScalarType.Float16, "bfloat16" or "bf16" => ScalarType.BFloat16,
            var d => throw new AloraException($"--omega-dtype '{d}' is not one of float32, float16, bfloat16"),
        };
        return new SiRecorder(adapters, variant, o.Xi, o.ClampOmega, ImportanceOutput(o, runDir), dtype, o.PriorImportance);
    }

    static AloraRegularizer Regularizer(FinetuneOptions o, IReadOnlyList<AdaptedModule> adapters)
    {
        if (o.InitAdapter is null)
            throw new AloraException($"--method {o.Method} --stage domain continues the stage-nu adapter: pass --init-adapter GENERAL_RUN_DIR (the run of --stage general)");
        var path = o.Importance ?? Path.Combine(o.InitAdapter, "importance.safetensors");
        if (!File.Exists(path))
            throw new AloraException($"{path}: importance file not found (give --importance FILE, written by --stage general)");
        using var importance = ImportanceFile.Load(path);
        importance.Validate(adapters, path);
        using (no_grad())
            foreach (var a in adapters)
            {
                double da = (a.Layer.lora_A.weight - importance.A[a.Path].to(a.Layer.lora_A.weight.device)).abs().max().item<float>();
                double db = (a.Layer.lora_B.weight - importance.B[a.Path].to(a.Layer.lora_B.weight.device)).abs().max().item<float>();
                if (da > 1e-6 || db > 1e-6)
                    throw new AloraException($"{path}: the stage-nu factors of {a.Path} differ from the adapter of --init-adapter {o.InitAdapter}: the importance was recorded with another adapter");
            }
        var weighting = o.Method == "alora-no-layer" ? LayerWeighting.Uniform : AloraRegularizer.ParseWeighting(o.LayerWeights);
        return new AloraRegularizer(adapters, importance, path, o.Phi, weighting);
    }
}
