using System.Reflection;
using System.Reflection.Emit;
using MmTrace.Sim;
using MmTrace.Sim.Mmu;

namespace MmTrace.Tests.Sim.Mmu;

/// <summary>
/// The MMU is hardware: no type in MmTrace.Sim.Mmu may refer to a type of the kernel (MmTrace.Sim.Kernel) or the
/// process model (MmTrace.Sim.Process) other than through the interfaces the Mmu folder defines. Checked on the
/// compiled assembly: signatures, fields, base types, and every type, method and field the method bodies name.
/// </summary>
public sealed class MmuDependencyTests
{
    private static readonly string[] Forbidden = ["MmTrace.Sim.Kernel", "MmTrace.Sim.Process"];

    private static bool IsForbidden(Type? t)
    {
        if (t is null) return false;
        if (t.HasElementType) return IsForbidden(t.GetElementType());
        if (t.IsGenericType && !t.IsGenericTypeDefinition && t.GetGenericArguments().Any(IsForbidden)) return true;
        string ns = t.Namespace ?? "";
        return Forbidden.Any(f => ns == f || ns.StartsWith(f + ".", StringComparison.Ordinal));
    }

    private static IEnumerable<Type> MmuTypes() =>
        typeof(X86Mmu).Assembly.GetTypes().Where(t => t.Namespace == "MmTrace.Sim.Mmu");

    private const BindingFlags All = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    /// <summary>Every type a member's signature names.</summary>
    private static IEnumerable<(string Where, Type Type)> SignatureTypes(Type t)
    {
        if (t.BaseType is { } b) yield return ($"{t.Name} : base", b);
        foreach (var i in t.GetInterfaces()) yield return ($"{t.Name} : interface", i);
        foreach (var f in t.GetFields(All)) yield return ($"{t.Name}.{f.Name}", f.FieldType);
        foreach (var p in t.GetProperties(All)) yield return ($"{t.Name}.{p.Name}", p.PropertyType);
        foreach (var m in t.GetMethods(All).Cast<MethodBase>().Concat(t.GetConstructors(All)))
        {
            if (m is MethodInfo mi) yield return ($"{t.Name}.{m.Name} returns", mi.ReturnType);
            foreach (var p in m.GetParameters()) yield return ($"{t.Name}.{m.Name}({p.Name})", p.ParameterType);
        }
    }

    private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static).Select(f => (OpCode)f.GetValue(null)!).ToDictionary(o => o.Value);

    /// <summary>Every type, method and field the IL of a method names (calls, newobj, field loads, casts, ldtoken).</summary>
    internal static IEnumerable<MemberInfo> BodyReferences(MethodBase m)
    {
        var il = m.GetMethodBody()?.GetILAsByteArray();
        if (il is null) yield break;
        var module = m.Module;
        Type[]? typeArgs = m.DeclaringType is { IsGenericType: true } d ? d.GetGenericArguments() : null;
        Type[]? methodArgs = m.IsGenericMethod ? m.GetGenericArguments() : null;
        int pos = 0;
        while (pos < il.Length)
        {
            short value = il[pos] == 0xFE ? (short)(0xFE00 | il[pos + 1]) : il[pos];
            pos += il[pos] == 0xFE ? 2 : 1;
            var op = OpCodesByValue[value];
            switch (op.OperandType)
            {
                case OperandType.InlineMethod or OperandType.InlineField or OperandType.InlineType or OperandType.InlineTok:
                    int token = BitConverter.ToInt32(il, pos);
                    MemberInfo? member = null;
                    try { member = module.ResolveMember(token, typeArgs, methodArgs); } catch (ArgumentException) { }
                    if (member is not null) yield return member;
                    pos += 4;
                    break;
                case OperandType.InlineNone: break;
                case OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar: pos += 1; break;
                case OperandType.InlineVar: pos += 2; break;
                case OperandType.InlineI8 or OperandType.InlineR: pos += 8; break;
                case OperandType.InlineSwitch: pos += 4 + 4 * BitConverter.ToInt32(il, pos); break;
                default: pos += 4; break;
            }
        }
    }

    private static Type? TypeOf(MemberInfo m) => m switch
    {
        Type t => t,
        FieldInfo f => IsForbidden(f.FieldType) ? f.FieldType : f.DeclaringType,
        MethodBase mb => mb.DeclaringType,
        _ => null,
    };

    [Fact]
    public void No_mmu_type_names_a_kernel_or_process_type_in_its_signatures()
    {
        var bad = MmuTypes().SelectMany(SignatureTypes).Where(x => IsForbidden(x.Type)).Select(x => $"{x.Where}: {x.Type.FullName}").ToList();
        Assert.Empty(bad);
    }

    [Fact]
    public void No_mmu_method_body_calls_or_reads_a_kernel_or_process_type()
    {
        var bad = new List<string>();
        foreach (var t in MmuTypes())
            foreach (var m in t.GetMethods(All).Cast<MethodBase>().Concat(t.GetConstructors(All)))
                foreach (var r in BodyReferences(m))
                    if (IsForbidden(TypeOf(r)))
                        bad.Add($"{t.Name}.{m.Name} → {TypeOf(r)!.FullName}.{r.Name}");
        Assert.Empty(bad);
    }

    [Fact]
    public void The_body_scan_sees_a_reference_when_there_is_one()
    {
        // The scanner itself: MachineBuilder's body constructs the X86Mmu and a CostModel, so it must find both.
        var found = typeof(MachineBuilder).GetMethods(All).SelectMany(BodyReferences).Select(TypeOf).ToHashSet();
        Assert.Contains(typeof(X86Mmu), found);
        Assert.Contains(typeof(CostModel), found);
        // and the kernel a machine runs by default is one the MMU check would reject if the MMU named it.
        Assert.True(IsForbidden(typeof(MmTrace.Sim.Kernel.LinuxKernel)));
    }
}
