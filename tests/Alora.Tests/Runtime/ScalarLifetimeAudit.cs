using Mono.Cecil;
using Mono.Cecil.Cil;

namespace Alora.Tests.Runtime;

/// <summary>
/// Reads compiled IL (Mono.Cecil) to find every place where a TorchSharp <c>Scalar</c> is made and not kept alive
/// past the native call that reads it (see <c>src/Alora/Runtime/ScalarOps.cs</c> for the race this prevents).
/// <para>
/// A call that returns a Scalar (an implicit conversion, <c>ToScalar()</c>, <c>new Scalar</c>) makes one. It is
/// owned when the very next instruction stores it in a field (the object or the type keeps it alive), or in a local
/// that is later loaded and disposed (C#'s <c>using</c>: the <c>finally</c> reads the local after the call, so the
/// JIT keeps it reachable). A method that makes one and returns it hands ownership to its caller. Any other Scalar
/// is unowned: the method that makes it is hazardous, and so is every TorchSharp method that calls a hazardous one
/// (to a fixed point), and every virtual TorchSharp method one of whose overrides is.
/// </para>
/// </summary>
public sealed class ScalarLifetimeAudit
{
    const string ScalarType = "TorchSharp.Scalar";
    readonly Dictionary<string, string> _hazards = new(StringComparer.Ordinal);

    public ScalarLifetimeAudit(string torchSharpPath)
    {
        using var torchSharp = AssemblyDefinition.ReadAssembly(torchSharpPath);
        var methods = torchSharp.MainModule.GetTypes().SelectMany(t => t.Methods).ToList();
        var callees = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var m in methods.Where(m => m.HasBody))
        {
            var list = callees[Key(m)] = [];
            foreach (var (ins, callee) in Calls(m))
            {
                if (MakesScalar(ins, callee))
                {
                    if (!IsOwned(ins) && !IsReturned(ins))
                        _hazards.TryAdd(Key(m), $"makes a Scalar it does not keep ({callee.Name})");
                }
                else
                    list.Add(Key(callee));
            }
        }
        var overrides = OverridesByBase(methods);
        for (bool changed = true; changed; )
        {
            changed = false;
            foreach (var m in methods)
            {
                var key = Key(m);
                if (_hazards.ContainsKey(key))
                    continue;
                var bad = callees.GetValueOrDefault(key)?.FirstOrDefault(_hazards.ContainsKey)
                    ?? overrides.GetValueOrDefault(key)?.FirstOrDefault(_hazards.ContainsKey);
                if (bad is null)
                    continue;
                _hazards[key] = "calls " + bad;
                changed = true;
            }
        }
    }

    /// <summary>TorchSharp methods that make a Scalar they do not keep alive, directly or through what they call.</summary>
    public IReadOnlyDictionary<string, string> HazardousTorchSharpMethods => _hazards;

    /// <summary>Is the method of TorchSharp with this signature (as <see cref="Key"/> writes it) hazardous?</summary>
    public bool IsHazardous(string key) => _hazards.ContainsKey(key);

    /// <summary>Every unowned Scalar made, and every call to a hazardous TorchSharp method, in the given assembly.</summary>
    public List<string> Findings(string assemblyPath, Func<MethodDefinition, bool>? only = null)
    {
        using var asm = AssemblyDefinition.ReadAssembly(assemblyPath);
        var found = new List<string>();
        foreach (var m in asm.MainModule.GetTypes().SelectMany(t => t.Methods).Where(m => m.HasBody && (only?.Invoke(m) ?? true)))
        foreach (var (ins, callee) in Calls(m))
        {
            string? why = MakesScalar(ins, callee)
                ? IsOwned(ins) || IsReturned(ins)
                    ? null
                    : $"makes a Scalar it does not keep ({callee.DeclaringType.Name}.{callee.Name})"
                : _hazards.TryGetValue(Key(callee), out var reason)
                    ? $"calls {callee.DeclaringType.Name}.{callee.Name}, which {reason}"
                    : null;
            if (why is not null)
                found.Add($"{m.DeclaringType.FullName}.{m.Name} (IL_{ins.Offset:x4}): {why}");
        }
        return found;
    }

    /// <summary>A method's identity across assemblies: declaring type (generic arguments erased), name, parameter types.</summary>
    public static string Key(MethodReference m)
    {
        var e = m.GetElementMethod();
        var type = e.DeclaringType.GetElementType().FullName;
        return $"{type}::{e.Name}({string.Join(",", e.Parameters.Select(p => p.ParameterType.FullName))})";
    }

    static IEnumerable<(Instruction, MethodReference)> Calls(MethodDefinition m) =>
        m
            .Body.Instructions.Where(i => i.OpCode.Code is Code.Call or Code.Callvirt or Code.Newobj && i.Operand is MethodReference)
            .Select(i => (i, (MethodReference)i.Operand));

    static bool MakesScalar(Instruction ins, MethodReference callee) =>
        ins.OpCode.Code == Code.Newobj ? callee.DeclaringType.FullName == ScalarType : callee.ReturnType.FullName == ScalarType;

    static bool IsReturned(Instruction ins) => ins.Next?.OpCode.Code == Code.Ret;

    /// <summary>Stored in a field, or in a local that a later instruction loads for Dispose (directly or after a null check).</summary>
    static bool IsOwned(Instruction ins)
    {
        var next = ins.Next;
        if (next is null)
            return false;
        if (next.OpCode.Code is Code.Stfld or Code.Stsfld)
            return true;
        if (StoredLocal(next) is not { } local)
            return false;
        for (var i = next.Next; i is not null; i = i.Next)
        {
            if (LoadedLocal(i) != local)
                continue;
            var use = i.Next;
            if (use?.OpCode.Code is Code.Brfalse or Code.Brfalse_S && use.Next is { } reload && LoadedLocal(reload) == local)
                use = reload.Next;
            if (use?.OpCode.Code is Code.Call or Code.Callvirt && ((MethodReference)use.Operand).Name == "Dispose")
                return true;
        }
        return false;
    }

    static int? StoredLocal(Instruction i) =>
        i.OpCode.Code switch
        {
            Code.Stloc_0 => 0,
            Code.Stloc_1 => 1,
            Code.Stloc_2 => 2,
            Code.Stloc_3 => 3,
            Code.Stloc_S or Code.Stloc => ((VariableDefinition)i.Operand).Index,
            _ => null,
        };

    static int? LoadedLocal(Instruction i) =>
        i.OpCode.Code switch
        {
            Code.Ldloc_0 => 0,
            Code.Ldloc_1 => 1,
            Code.Ldloc_2 => 2,
            Code.Ldloc_3 => 3,
            Code.Ldloc_S or Code.Ldloc => ((VariableDefinition)i.Operand).Index,
            _ => null,
        };

    /// <summary>For each virtual method, the methods of the same name and arity in the types derived from its type.</summary>
    static Dictionary<string, List<string>> OverridesByBase(List<MethodDefinition> methods)
    {
        var map = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var m in methods.Where(m => m.IsVirtual))
        {
            for (var t = BaseOf(m.DeclaringType); t is not null; t = BaseOf(t))
                foreach (var b in t.Methods.Where(b => b.IsVirtual && b.Name == m.Name && b.Parameters.Count == m.Parameters.Count))
                {
                    var key = Key(b);
                    if (!map.TryGetValue(key, out var list))
                        map[key] = list = [];
                    list.Add(Key(m));
                }
        }
        return map;
    }

    /// <summary>The base type when TorchSharp itself defines it (overrides outside TorchSharp are the caller's own code).</summary>
    static TypeDefinition? BaseOf(TypeDefinition t) =>
        t.BaseType switch
        {
            TypeDefinition d => d,
            GenericInstanceType { ElementType: TypeDefinition g } => g,
            _ => null,
        };
}
