using Mono.Cecil;
using Mono.Cecil.Cil;

namespace Alora.Tests.Architecture;

/// <summary>
/// Which folders of an assembly use which: read from its IL with Mono.Cecil, so that every kind of use counts
/// (base types, fields, signatures, attributes, and the types and members named inside method bodies,
/// lambdas and iterators included). A folder is the namespace segment after the root ("Alora.Methods" ->
/// "Methods"); types of the root namespace itself form the folder "" (AloraException and the like).
/// </summary>
public sealed class FolderDependencies
{
    readonly string _root;

    /// <summary>folder -> folder it uses -> one example of the use ("Methods.SiRecorder uses Recipes.IRunArtifacts").</summary>
    public Dictionary<string, Dictionary<string, string>> Uses { get; } = new(StringComparer.Ordinal);

    public FolderDependencies(string assemblyPath, string rootNamespace)
    {
        _root = rootNamespace;
        using var asm = AssemblyDefinition.ReadAssembly(assemblyPath);
        foreach (var type in asm.MainModule.GetTypes())
        {
            var from = Folder(type);
            if (from is null)
                continue;
            foreach (var used in TypesUsedBy(type))
                Add(from, used, type);
        }
    }

    /// <summary>The folder of a type of this assembly, or null for types outside the root namespace (compiler-generated ones at the top level).</summary>
    public string? Folder(TypeReference t)
    {
        while (t.IsNested)
            t = t.DeclaringType;
        var ns = t.Namespace;
        if (ns == _root)
            return "";
        if (!ns.StartsWith(_root + ".", StringComparison.Ordinal))
            return null;
        var rest = ns[(_root.Length + 1)..];
        var dot = rest.IndexOf('.', StringComparison.Ordinal);
        return dot < 0 ? rest : rest[..dot];
    }

    void Add(string from, TypeReference used, TypeDefinition where)
    {
        var to = Folder(used);
        if (to is null || to == from)
            return;
        if (!Uses.TryGetValue(from, out var targets))
            Uses[from] = targets = new(StringComparer.Ordinal);
        targets.TryAdd(to, $"{where.FullName} uses {used.FullName}");
    }

    static IEnumerable<TypeReference> TypesUsedBy(TypeDefinition type)
    {
        if (type.BaseType is { } b)
            foreach (var t in Expand(b))
                yield return t;
        foreach (var i in type.Interfaces)
        foreach (var t in Expand(i.InterfaceType))
            yield return t;
        foreach (var a in type.CustomAttributes)
            yield return a.AttributeType;
        foreach (var f in type.Fields)
        foreach (var t in Expand(f.FieldType))
            yield return t;
        foreach (var p in type.Properties)
        foreach (var t in Expand(p.PropertyType))
            yield return t;
        foreach (var m in type.Methods)
        {
            foreach (var t in Expand(m.ReturnType))
                yield return t;
            foreach (var p in m.Parameters)
            foreach (var t in Expand(p.ParameterType))
                yield return t;
            foreach (var a in m.CustomAttributes)
                yield return a.AttributeType;
            if (!m.HasBody)
                continue;
            foreach (var v in m.Body.Variables)
            foreach (var t in Expand(v.VariableType))
                yield return t;
            foreach (var ins in m.Body.Instructions)
            foreach (var t in Operand(ins))
                yield return t;
        }
    }

    static IEnumerable<TypeReference> Operand(Instruction ins) =>
        ins.Operand switch
        {
            TypeReference t => Expand(t),
            MethodReference mr => Expand(mr.DeclaringType)
                .Concat(Expand(mr.ReturnType))
                .Concat(mr.Parameters.SelectMany(p => Expand(p.ParameterType)))
                .Concat(mr is GenericInstanceMethod g ? g.GenericArguments.SelectMany(Expand) : []),
            FieldReference fr => Expand(fr.DeclaringType).Concat(Expand(fr.FieldType)),
            _ => [],
        };

    /// <summary>A type and the types it is made of (element types, generic arguments).</summary>
    static IEnumerable<TypeReference> Expand(TypeReference t)
    {
        switch (t)
        {
            case GenericInstanceType g:
                yield return g.ElementType;
                foreach (var a in g.GenericArguments)
                foreach (var x in Expand(a))
                    yield return x;
                break;
            case TypeSpecification s:
                foreach (var x in Expand(s.ElementType))
                    yield return x;
                break;
            case GenericParameter:
                break;
            default:
                yield return t;
                break;
        }
    }

    /// <summary>The cycles of the folder graph: its strongly connected components with more than one folder (Tarjan's algorithm).</summary>
    public List<List<string>> Cycles()
    {
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        var low = new Dictionary<string, int>(StringComparer.Ordinal);
        var stack = new Stack<string>();
        var onStack = new HashSet<string>(StringComparer.Ordinal);
        var result = new List<List<string>>();
        var nodes = Uses
            .Keys.Concat(Uses.Values.SelectMany(v => v.Keys))
            .Distinct(StringComparer.Ordinal)
            .OrderBy(n => n, StringComparer.Ordinal)
            .ToList();
        foreach (var n in nodes)
            if (!index.ContainsKey(n))
                Visit(n);
        return result;

        void Visit(string v)
        {
            index[v] = low[v] = index.Count;
            stack.Push(v);
            onStack.Add(v);
            foreach (var w in Uses.TryGetValue(v, out var ws) ? ws.Keys : Enumerable.Empty<string>())
            {
                if (!index.TryGetValue(w, out var iw))
                {
                    Visit(w);
                    low[v] = Math.Min(low[v], low[w]);
                }
                else if (onStack.Contains(w))
                    low[v] = Math.Min(low[v], iw);
            }
            if (low[v] != index[v])
                return;
            var component = new List<string>();
            string x;
            do
            {
                x = stack.Pop();
                onStack.Remove(x);
                component.Add(x);
            } while (x != v);
            if (component.Count > 1)
                result.Add(component);
        }
    }
}
