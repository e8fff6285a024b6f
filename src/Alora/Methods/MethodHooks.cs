using Alora.Lora;
using Alora.Models;
using Alora.Recipes;
using Alora.Training;

namespace Alora.Methods;

/// <summary>The hooks that turn the LoRA recipe into a method: none for LoRA and rsLoRA; EWC's penalty for ewc-lora.</summary>
public static class MethodHooks
{
    public static List<ITrainingHook> Create(FinetuneOptions o, CausalLM model, IReadOnlyList<AdaptedModule> adapters, IReadOnlyList<TrainingExample> data) =>
        o.Method switch
        {
            "lora" or "rslora" => [],
            "ewc-lora" => [EwcRegularizer.FromOptions(o, model, adapters)],
            _ => throw new AloraException($"--method {o.Method} is not available yet"),
        };
}
