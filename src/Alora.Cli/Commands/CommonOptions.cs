using System.CommandLine;
using Alora.Models;
using Alora.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Alora.Cli.Commands;

/// <summary>Options shared by the commands that load a model.</summary>
public sealed class ModelOptions
{
    public Option<string> Model { get; } =
        new("--model") { Description = "HuggingFace model folder (config.json, safetensors, tokenizer)", Required = true };
    public Option<string> Device { get; } = new("--device") { Description = "cpu, cuda or cuda:N", DefaultValueFactory = _ => "cpu" };
    public Option<ComputeDtype> DType { get; } = NamedOptions.Create("--dtype", "compute dtype", ComputeDtype.Float32);
    public Option<string?> Adapter { get; } =
        new("--adapter")
        {
            Description = "LoRA adapter to apply: a run folder or a PEFT adapter folder (adapter_config.json + adapter_model.safetensors)",
        };

    public void AddTo(Command c)
    {
        c.Add(Model);
        c.Add(Device);
        c.Add(DType);
        c.Add(Adapter);
    }

    /// <summary>Loads the model, with the adapter applied (unmerged, so its outputs are exactly base + s B A x) when given.</summary>
    public CausalLM Load(ParseResult p)
    {
        var device = TorchRuntime.ParseDevice(p.GetValue(Device)!);
        var model = ModelLoader.Load(p.GetValue(Model)!, device, p.GetValue(DType).ToScalarType());
        if (p.GetValue(Adapter) is { } adapter)
        {
            try
            {
                Alora.Lora.PeftAdapter.Apply(model, adapter);
                model.eval();
            }
            catch
            {
                model.Dispose();
                throw;
            }
        }
        return model;
    }
}
