using System.Reflection;
using System.Text.RegularExpressions;

namespace MmTrace.Tests;

/// <summary>
/// Tests mirror src/: a test of src/MmTrace.X/Y/Z.cs lives in tests/MmTrace.Tests/X/Y/,
/// one test class per file, the file named after the class and the namespace after the folder. Test classes are
/// found by reflection (a method with [Fact] or [Theory]) and located in the sources by their declarations.
/// </summary>
public class TestLayoutTests
{
    // Folders of tests/MmTrace.Tests (as X/Y) that hold only helpers and have no src/MmTrace.X/Y. None today.
    private static readonly string[] HelperFolders = [];

    private static readonly string TestsRoot = Path.Combine(TestPaths.RepoRoot, "tests", "MmTrace.Tests");

    private sealed record SourceFile(string Path, string Folder, string? Namespace, string[] Classes);

    // The .cs files of the test project, outside bin/ and obj/, with their folder (X/Y, "" for the root).
    private static List<SourceFile> Sources()
    {
        var files = new List<SourceFile>();
        foreach (string path in Directory.EnumerateFiles(TestsRoot, "*.cs", SearchOption.AllDirectories))
        {
            string rel = Path.GetRelativePath(TestsRoot, path).Replace('\\', '/');
            if (rel.StartsWith("bin/", StringComparison.Ordinal) || rel.StartsWith("obj/", StringComparison.Ordinal)) continue;
            string folder = rel.Contains('/') ? rel[..rel.LastIndexOf('/')] : "";
            // Line comments out, so a class named in a comment is not a declaration.
            string code = Regex.Replace(File.ReadAllText(path), "//.*", "");
            string? ns = Regex.Match(code, @"^\s*namespace\s+([\w.]+)", RegexOptions.Multiline) is { Success: true } m ? m.Groups[1].Value : null;
            string[] classes = [.. Regex.Matches(code, @"\b(?:class|record)\s+(\w+)").Select(c => c.Groups[1].Value)];
            files.Add(new SourceFile(rel, folder, ns, classes));
        }
        return files;
    }

    // Top-level public or internal classes of this assembly with a [Fact] or [Theory] method ([Theory] is a [Fact]).
    private static HashSet<string> TestClasses() =>
    [
        .. typeof(TestLayoutTests).Assembly.GetTypes()
            .Where(t => t.IsClass && !t.IsNested && t.FullName is not null)
            .Where(t => t.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly)
                .Any(m => m.GetCustomAttributes<FactAttribute>(inherit: true).Any()))
            .Select(t => t.FullName!.Split('`')[0]),
    ];

    private static string Namespace(string folder) => folder.Length == 0 ? "MmTrace.Tests" : "MmTrace.Tests." + folder.Replace('/', '.');

    [Fact]
    public void Every_folder_of_the_tests_has_its_counterpart_under_src()
    {
        var wrong = new List<string>();
        foreach (var folder in Sources().Select(f => f.Folder).Distinct().Where(f => f.Length > 0))
        {
            string[] parts = folder.Split('/');
            string src = Path.Combine([TestPaths.RepoRoot, "src", "MmTrace." + parts[0], .. parts[1..]]);
            if (!Directory.Exists(src) && !HelperFolders.Contains(folder))
                wrong.Add($"tests/MmTrace.Tests/{folder}: no src/MmTrace.{folder}; move its tests beside the tests of the src folder they test (helper-only folders go in HelperFolders)");
        }
        // The root holds helpers and this test; a test of src/MmTrace.X/... belongs under X/.
        var classes = TestClasses();
        foreach (var f in Sources().Where(f => f.Folder.Length == 0))
            foreach (string c in f.Classes.Where(c => classes.Contains($"{f.Namespace}.{c}") && c != nameof(TestLayoutTests)))
                wrong.Add($"tests/MmTrace.Tests/{f.Path}: test class {c} at the root; move it to the folder mirroring the src class it tests");
        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
    }

    [Fact]
    public void Each_file_holds_at_most_one_test_class_and_is_named_after_it()
    {
        var classes = TestClasses();
        Assert.True(classes.Count > 50, $"found only {classes.Count} test classes by reflection");
        var located = new HashSet<string>();
        var wrong = new List<string>();
        foreach (var f in Sources())
        {
            var declared = f.Classes.Select(c => $"{f.Namespace}.{c}").Where(classes.Contains).Distinct().ToList();
            located.UnionWith(declared);
            if (declared.Count > 1)
                wrong.Add($"tests/MmTrace.Tests/{f.Path}: {declared.Count} test classes ({string.Join(", ", declared.Select(d => d.Split('.')[^1]))}); give each its own file named after it");
            else if (declared.Count == 1 && declared[0].Split('.')[^1] != Path.GetFileNameWithoutExtension(f.Path))
                wrong.Add($"tests/MmTrace.Tests/{f.Path}: holds test class {declared[0].Split('.')[^1]}; name the file after the class");
        }
        foreach (string c in classes.Except(located).Order())
            wrong.Add($"{c}: test class not found in any file of tests/MmTrace.Tests under the namespace of its folder");
        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
    }

    [Fact]
    public void Namespaces_follow_the_folders()
    {
        var wrong = Sources()
            .Where(f => f.Namespace != Namespace(f.Folder))
            .Select(f => $"tests/MmTrace.Tests/{f.Path}: namespace {f.Namespace ?? "(none)"}, expected {Namespace(f.Folder)}")
            .ToList();
        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
    }
}
