# Halton Meter's install script for Windows (PowerShell 5.1 or 7):
#
#   irm <release>/install.ps1 -OutFile install.ps1; .\install.ps1 [init flags]
#
# (run as a file, so that its exit code lands in $LASTEXITCODE instead of closing the console) downloads the binary from a release, checks it against the release's SHA256SUMS, puts it in a folder on the
# user's PATH, writes the channel marker beside it, and runs `halton-meter init` with the flags given.
#
# Settings (environment): HALTON_METER_VERSION (default: the latest), HALTON_METER_BASE_URL (default: the
# project's GitHub releases; files are fetched from <base>/v<version>/ or <base>/latest/, GitHub's own latest
# from releases/latest/download/),
# HALTON_METER_INSTALL_DIR (default: %LOCALAPPDATA%\Programs\halton-meter), HALTON_METER_NO_MODIFY_PATH=1,
# HALTON_METER_NO_INIT=1.
#
# Exit codes: 0 installed (and init succeeded), 1 download or install failed, 2 unsupported machine or bad
# settings, 5 checksum mismatch; otherwise init's own exit code.
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3

function Fail([int]$Code, [string]$Message) {
  [Console]::Error.WriteLine("halton-meter install: $Message")
  exit $Code
}
function Say([string]$Message) { [Console]::Error.WriteLine("halton-meter install: $Message") }

$GitHubReleases = 'https://github.com/haltonlabs/halton-meter/releases'
$BaseUrl = if ($env:HALTON_METER_BASE_URL) { $env:HALTON_METER_BASE_URL } else { "$GitHubReleases/download" }
$Version = if ($env:HALTON_METER_VERSION) { $env:HALTON_METER_VERSION } else { 'latest' }
$InstallDir = if ($env:HALTON_METER_INSTALL_DIR) { $env:HALTON_METER_INSTALL_DIR } else { Join-Path $env:LOCALAPPDATA 'Programs\halton-meter' }

# GitHub itself serves the latest release at releases/latest/download/; a mirror, at <base>/latest/.
if ($Version -eq 'latest') { $ReleaseUrl = if ($env:HALTON_METER_BASE_URL) { "$BaseUrl/latest" } else { "$GitHubReleases/latest/download" } }
elseif ($Version -match '^v\d') { $ReleaseUrl = "$BaseUrl/$Version" }
elseif ($Version -match '^\d') { $ReleaseUrl = "$BaseUrl/v$Version" }
else { Fail 2 "HALTON_METER_VERSION='$Version' is not a version such as 0.2.0" }

$Arch = [System.Runtime.InteropServices.RuntimeInformation]::OSArchitecture.ToString()
if ($Arch -ne 'X64') { Fail 2 "unsupported processor '$Arch' (x64 is built for Windows)" }
$Name = 'halton-meter-x86_64-pc-windows-msvc.exe'

$Work = Join-Path ([System.IO.Path]::GetTempPath()) ("halton-meter-" + [guid]::NewGuid())
New-Item -ItemType Directory -Path $Work | Out-Null
try {
  Say "downloading $Name from $ReleaseUrl"
  try {
    Invoke-WebRequest -UseBasicParsing -Uri "$ReleaseUrl/SHA256SUMS" -OutFile (Join-Path $Work 'SHA256SUMS')
    Invoke-WebRequest -UseBasicParsing -Uri "$ReleaseUrl/$Name" -OutFile (Join-Path $Work $Name)
  } catch {
    Fail 1 "could not download from ${ReleaseUrl}: $($_.Exception.Message)"
  }

  $Expected = $null
  foreach ($Line in Get-Content (Join-Path $Work 'SHA256SUMS')) {
    $Parts = $Line -split '\s+', 2
    if ($Parts.Count -eq 2 -and $Parts[1].TrimStart('*') -eq $Name) { $Expected = $Parts[0].ToLowerInvariant() }
  }
  if (-not $Expected) { Fail 5 "SHA256SUMS of $ReleaseUrl does not list $Name" }
  $Actual = (Get-FileHash -Algorithm SHA256 -Path (Join-Path $Work $Name)).Hash.ToLowerInvariant()
  if ($Actual -ne $Expected) { Fail 5 "checksum mismatch for ${Name}: expected $Expected, got $Actual; nothing was installed" }
  Say "checksum ok ($Actual)"

  New-Item -ItemType Directory -Force -Path $InstallDir | Out-Null
  $Target = Join-Path $InstallDir 'halton-meter.exe'
  # A running halton-meter.exe cannot be overwritten but can be renamed: move it aside first.
  if (Test-Path $Target) { Move-Item -Force $Target (Join-Path $InstallDir 'halton-meter.old.exe') }
  Copy-Item (Join-Path $Work $Name) $Target
  Set-Content -Encoding ASCII -Path (Join-Path $InstallDir 'halton-meter.channel') -Value ('{"channel":"install-script","source":"' + $ReleaseUrl + '"}')
  Say "installed $Target"
} finally {
  Remove-Item -Recurse -Force $Work -ErrorAction SilentlyContinue
}

$UserPath = [Environment]::GetEnvironmentVariable('Path', 'User')
if (-not $UserPath) { $UserPath = '' }
if (($UserPath -split ';') -notcontains $InstallDir) {
  if ($env:HALTON_METER_NO_MODIFY_PATH -eq '1') {
    Say "$InstallDir is not on your PATH: add it to use 'halton-meter' by name"
  } else {
    [Environment]::SetEnvironmentVariable('Path', (($UserPath.TrimEnd(';') + ";$InstallDir").TrimStart(';')), 'User')
    Say "added $InstallDir to your user PATH (new terminals)"
  }
}
$env:Path = "$InstallDir;$env:Path"

if ($env:HALTON_METER_NO_INIT -eq '1') {
  Say "not running init (HALTON_METER_NO_INIT=1): run 'halton-meter init' to finish"
  exit 0
}
Say "running: halton-meter init $args"
& $Target init @args
exit $LASTEXITCODE
