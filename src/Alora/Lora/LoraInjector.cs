using System.Reflection;
using Alora.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Alora.Lora;

/// <summary>One adapted module: its checkpoint path (for example model.layers.3.self_attn.v_proj) and its LoRA layer.</summary>
public sealed record AdaptedModule(string Path, LoraLinear Layer);

/// <summary>Injects LoRA into the modules whose last name is in target_modules, as PEFT does, and freezes the base weights.</summary>
public static class LoraInjector
{
    /// <summary>
    /// Wraps the target modules; <paramref name="adapterScale"/> (beta, see <see cref="LoraLinear.AdapterScale"/>)
    /// multiplies every layer's scaling, for an adapter applied as W0 + beta D (1: the adapter as trained).
    /// </summary>
    public static IReadOnlyList<AdaptedModule> Inject(CausalLM model, LoraConfig config, double adapterScale = 1)
    {
        config.Validate();
        PeftAdapter.CheckScale(adapterScale);
        var targets = config.TargetModules.ToHashSet(StringComparer.Ordinal);
        var found = new List<(string Path, nn.Module Parent, string Field, nn.Module<Tensor, Tensor> Layer)>();
        var seenNames = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (path, module) in model.named_modules())
        {
            if (path.Length == 0)
                continue;
            var last = path[(path.LastIndexOf('.') + 1)..];
            seenNames.Add(last);
            if (!targets.Contains(last))
                continue;
            if (module is LoraLinear)
                throw new AloraException($"{path} already has a LoRA adapter");
            if (module is not (Models.Linear or Conv1D))
                throw new AloraException($"target module '{last}' at {path} is a {module.GetType().Name}, not a linear layer");
            var parentPath = path.Contains('.') ? path[..path.LastIndexOf('.')] : "";
            var parent = parentPath.Length == 0 ? model : model.named_modules().First(m => m.name == parentPath).module;
            found.Add((path, parent, last, (nn.Module<Tensor, Tensor>)module));
        }
        var unknown = targets.Where(t => !found.Any(f => f.Field == t)).ToList();
        if (unknown.Count > 0)
            throw new AloraException(
                $"target module(s) {string.Join(", ", unknown)} not found in {model.Architecture}; its linear layers are: {string.Join(", ", LinearNames(model))}"
            );

        foreach (var p in model.parameters())
            p.requires_grad = false;
        var adapted = new List<AdaptedModule>();
        foreach (var (path, parent, field, layer) in found)
        {
            var (fanIn, fanOut) = layer switch
            {
                Models.Linear l => (l.InFeatures, l.OutFeatures),
                Conv1D c => (c.InFeatures, c.OutFeatures),
                _ => (0L, 0L),
            };
            if (config.R > Math.Min(fanIn, fanOut))
                throw new AloraException($"--rank {config.R} is larger than {path} ({fanOut} x {fanIn}) allows (at most {Math.Min(fanIn, fanOut)})");
            var lora = new LoraLinear(layer, config.R, config.Scaling, config.Dropout, adapterScale);
            Replace(parent, field, lora);
            adapted.Add(new AdaptedModule(path, lora));
        }
        return adapted;
    }

    /// <summary>Distinct last names of the linear layers of a model, for error messages.</summary>
    public static IEnumerable<string> LinearNames(CausalLM model) =>
        model.named_modules().Where(m => m.module is Models.Linear or Conv1D).Select(m => m.name[(m.name.LastIndexOf('.') + 1)..]).Distinct();

    /// <summary>Swaps a child module: the field the parent's forward reads, and the registration that names its parameters.</summary>
    static void Replace(nn.Module parent, string field, nn.Module replacement)
    {
        var f = parent.GetType().GetField(field, BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)
            ?? throw new InvalidOperationException($"{parent.GetType().Name} has no field {field}");
        f.SetValue(parent, replacement);
        var dictField = typeof(nn.Module).GetField("_internal_submodules", BindingFlags.Instance | BindingFlags.NonPublic)
            ?? throw new InvalidOperationException("TorchSharp's Module layout changed: _internal_submodules not found");
        var dict = (IDictionary<string, nn.Module>)dictField.GetValue(parent)!;
        dict[field] = replacement; // same key, same order: named_parameters() now yields field.base_layer.*, field.lora_A.*
    }
}
