using System.CommandLine;
using System.Text.Json.Nodes;
using Alora.Models;
using Alora.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Alora.Cli.Commands;

/// <summary>Options shared by the commands that load a model.</summary>
public sealed class ModelOptions(CliIo io)
{
    string? folder;
    string? adapterFolder;

    public Option<string> Model { get; } =
        new("--model")
        {
            Description =
                "HuggingFace model folder (config.json, safetensors, tokenizer), or ORG/NAME[@REVISION] on the hub (through the Hugging Face cache)",
            Required = true,
        };
    public Option<string> Device { get; } = new("--device") { Description = "cpu, cuda or cuda:N", DefaultValueFactory = _ => "cpu" };
    public Option<ComputeDtype> DType { get; } = NamedOptions.Create("--dtype", "compute dtype", ComputeDtype.Float32);
    public Option<string?> Adapter { get; } =
        new("--adapter")
        {
            Description =
                "LoRA adapter to apply: a run folder, a PEFT adapter folder (adapter_config.json + adapter_model.safetensors), or ORG/NAME[@REVISION] on the hub",
        };

    public Option<double?> AdapterScale { get; } = AdapterScaleOption();

    /// <summary>--adapter-scale BETA: the adapter applied as W0 + beta D; refused without --adapter (<see cref="RequireAdapter"/>).</summary>
    public static Option<double?> AdapterScaleOption()
    {
        var o = new Option<double?>("--adapter-scale")
        {
            Description =
                "apply the adapter as W0 + BETA * D (adapter scaling: 1, the default, is the adapter as trained, 0 the base model; above 1 extrapolates past it); needs --adapter",
        };
        o.Validators.Add(r =>
        {
            // NaN and infinities are refused by OptionChecks.AddFiniteChecks
            try
            {
                if (r.GetValueOrDefault<double?>() is { } v && double.IsFinite(v) && v < 0)
                    r.AddError($"--adapter-scale must be at least 0 (got {v.ToString(System.Globalization.CultureInfo.InvariantCulture)})");
            }
            catch (InvalidOperationException) { } // the text did not convert: already reported
        });
        return o;
    }

    /// <summary>An --adapter-scale without an adapter to scale is an error, not a silent no-op.</summary>
    public static void RequireAdapter(Command c, Option<double?> scale, Option<string?> adapter)
    {
        ArgumentNullException.ThrowIfNull(c);
        c.Validators.Add(r =>
        {
            if (r.GetResult(scale) is not { Implicit: false } given || r.GetResult(adapter) is not null)
                return;
            try
            {
                // a value that is itself wrong (NaN, negative, not a number) has its own error: one error per mistake
                if (given.GetValueOrDefault<double?>() is { } v && !(double.IsFinite(v) && v >= 0))
                    return;
            }
            catch (InvalidOperationException)
            {
                return;
            }
            r.AddError("--adapter-scale scales an adapter: give the adapter with --adapter");
        });
    }

    public void AddTo(Command c)
    {
        ArgumentNullException.ThrowIfNull(c);
        c.Add(Model);
        c.Add(Device);
        c.Add(DType);
        c.Add(Adapter);
        c.Add(AdapterScale);
        RequireAdapter(c, AdapterScale, Adapter);
    }

    /// <summary>The model folder: --model itself, or the snapshot folder in the Hugging Face cache of the repository it names (resolved once).</summary>
    public string Folder(ParseResult p)
    {
        ArgumentNullException.ThrowIfNull(p);
        return folder ??= HubCli.Model(io, p.GetValue(Model)!);
    }

    /// <summary>The adapter folder, resolved as <see cref="Folder"/>; null without --adapter.</summary>
    public string? AdapterFolder(ParseResult p)
    {
        ArgumentNullException.ThrowIfNull(p);
        return p.GetValue(Adapter) is { } a ? adapterFolder ??= HubCli.Adapter(io, a) : null;
    }

    /// <summary>Records the hub names given, the adapter and its scale in a result's JSON (nothing for local folders without --adapter).</summary>
    public void Describe(ParseResult p, JsonObject o)
    {
        ArgumentNullException.ThrowIfNull(p);
        ArgumentNullException.ThrowIfNull(o);
        if (Alora.Hub.HubFiles.IsRepoSpec(p.GetValue(Model)!))
            o["model_id"] = p.GetValue(Model);
        if (AdapterFolder(p) is not { } adapter)
            return;
        if (Alora.Hub.HubFiles.IsRepoSpec(p.GetValue(Adapter)!))
            o["adapter_id"] = p.GetValue(Adapter);
        o["adapter"] = Path.GetFullPath(adapter);
        o["adapter_scale"] = p.GetValue(AdapterScale) ?? 1.0;
    }

    /// <summary>The run's settings as an lm-eval results file records them (<see cref="Alora.Eval.LmEvalResults"/>).</summary>
    public Alora.Eval.LmEvalRun LmEvalRun(ParseResult p, int batchSize, int? limit, DateTimeOffset started, double seconds)
    {
        ArgumentNullException.ThrowIfNull(p);
        return new Alora.Eval.LmEvalRun
        {
            Model = p.GetValue(Model)!,
            Adapter = p.GetValue(Adapter),
            AdapterScale = p.GetValue(AdapterScale) ?? 1.0,
            Device = p.GetValue(Device)!,
            Dtype = EnumNames<ComputeDtype>.Name(p.GetValue(DType)),
            BatchSize = batchSize,
            Limit = limit,
            Started = started,
            Seconds = seconds,
        };
    }

    /// <summary>
    /// Loads the model, with the adapter applied (unmerged, so its outputs are exactly base + beta s B A x; beta
    /// from --adapter-scale, default 1) when given.
    /// </summary>
    public CausalLM Load(ParseResult p)
    {
        ArgumentNullException.ThrowIfNull(p);
        var device = TorchRuntime.ParseDevice(p.GetValue(Device)!);
        var model = ModelLoader.Load(Folder(p), device, p.GetValue(DType).ToScalarType());
        if (AdapterFolder(p) is { } adapter)
        {
            try
            {
                Alora.Lora.PeftAdapter.Apply(model, adapter, p.GetValue(AdapterScale) ?? 1.0);
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
