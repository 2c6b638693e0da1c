#include "agent/guest/qemu_argv.h"

#include <cstdio>

#include "absl/hash/hash.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/guest/fnv1a.h"

namespace emu::agent::guest {
namespace {

std::string Resolve(const std::string& dir, absl::string_view path) {
  if (path.empty()) return "";
  if (path[0] == '/') return std::string(path);
  return absl::StrCat(dir, "/", path);
}


}  // namespace

absl::StatusOr<GuestImage> ParseImageConf(const std::string& dir,
                                          absl::string_view text) {
  GuestImage image;
  image.dir = dir;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    size_t eq = line.find('=');
    if (eq == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(dir, "/image.conf:", line_no, ": expected key=value"));
    }
    absl::string_view key = line.substr(0, eq);
    absl::string_view value = line.substr(eq + 1);
    if (key == "kernel") {
      image.kernel = Resolve(dir, value);
    } else if (key == "initrd") {
      image.initrd = Resolve(dir, value);
    } else if (key == "disk") {
      image.disk = Resolve(dir, value);
    } else if (key == "disk_format") {
      if (value != "raw" && value != "qcow2") {
        return absl::InvalidArgumentError(
            absl::StrCat(dir, "/image.conf:", line_no, ": disk_format=", value,
                         ": use raw or qcow2"));
      }
      image.disk_format = std::string(value);
    } else if (key == "append") {
      image.append = std::string(value);
    } else if (key == "console") {
      if (value != "shell" && value != "none") {
        return absl::InvalidArgumentError(
            absl::StrCat(dir, "/image.conf:", line_no, ": console=", value,
                         ": use shell or none"));
      }
      image.console = std::string(value);
    } else if (key == "ready_text") {
      image.ready_text = std::string(value);
    } else if (key == "kernel_release") {
      image.kernel_release = std::string(value);
    } else if (key == "packages") {
      image.packages = std::string(value);
    }  // other keys (script_version) are the recipes' own
  }
  if (image.kernel.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(dir, "/image.conf: no kernel= line"));
  }
  return image;
}

absl::StatusOr<std::vector<std::string>> BuildQemuArgv(const GuestSpec& spec) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("qemu argv for ", spec.name, ": ", why));
  };
  if (spec.image.kernel.empty()) return bad("image has no kernel");
  if (spec.qmp_socket.empty()) return bad("no QMP socket");
  if (spec.console_socket.empty()) return bad("no console socket");
  if (spec.pid_file.empty()) return bad("no pid file");
  if (spec.cpus == 0) return bad("cpus must be at least 1");
  if (spec.memory_mib < 64) return bad("memory must be at least 64 MiB");
  std::vector<std::string> a = {
      spec.qemu_binary,
      "-name",
      absl::StrCat(spec.name, ",process=", spec.name.substr(0, 15),
                   ",debug-threads=on"),
      "-accel",
      spec.kvm ? "kvm" : "tcg",
      "-cpu",
      spec.kvm ? "host" : "max",
      "-smp",
      absl::StrCat(spec.cpus),
      "-m",
      absl::StrCat(spec.memory_mib),
      "-nodefaults",
      "-no-user-config",
      "-display",
      "none",
      "-vga",
      "none",
      "-kernel",
      spec.image.kernel,
  };
  if (!spec.image.initrd.empty()) {
    a.insert(a.end(), {"-initrd", spec.image.initrd});
  }
  if (!spec.image.append.empty()) {
    a.insert(a.end(), {"-append", spec.image.append});
  }
  if (!spec.memory_file.empty()) {
    a.insert(a.end(),
             {"-object",
              absl::StrCat("memory-backend-file,id=ram0,size=", spec.memory_mib,
                           "M,mem-path=", spec.memory_file,
                           spec.memory_shared ? ",share=on" : ",share=off"),
              "-machine", "memory-backend=ram0"});
  }
  if (spec.incoming) a.insert(a.end(), {"-incoming", "defer"});
  std::string disk = spec.overlay.empty() ? spec.image.disk : spec.overlay;
  if (!disk.empty()) {
    std::string format =
        spec.overlay.empty() ? spec.image.disk_format : "qcow2";
    a.insert(
        a.end(),
        {"-drive", absl::StrCat("file=", disk, ",if=virtio,format=", format,
                                spec.overlay.empty() ? ",snapshot=on" : "")});
  }
  for (size_t i = 0; i < spec.nics.size(); ++i) {
    const GuestNic& nic = spec.nics[i];
    if (nic.mac.empty()) return bad(absl::StrCat("NIC ", i, " needs a MAC"));
    if (nic.tap.empty()) {
      a.insert(a.end(), {"-device", absl::StrCat("virtio-net-pci,mac=", nic.mac)});
      continue;
    }
    a.insert(a.end(),
             {"-netdev",
              absl::StrCat("tap,id=n", i, ",ifname=", nic.tap,
                           ",script=no,downscript=no"),
              "-device",
              absl::StrCat("virtio-net-pci,netdev=n", i, ",mac=", nic.mac)});
  }
  a.insert(a.end(),
           {"-chardev",
            absl::StrCat("socket,id=con0,path=", spec.console_socket,
                         ",server=on,wait=off"),
            "-serial", "chardev:con0", "-qmp",
            absl::StrCat("unix:", spec.qmp_socket, ",server=on,wait=off"),
            "-pidfile", spec.pid_file, "-no-reboot"});
  return a;
}

std::string GuestMac(absl::string_view lab, absl::string_view node,
                     absl::string_view interface) {
  uint64_t h = Fnv1a(absl::StrCat(lab, "\x1f", node, "\x1f", interface));
  char buf[18];
  std::snprintf(buf, sizeof(buf), "02:%02x:%02x:%02x:%02x:%02x",
                static_cast<unsigned>((h >> 32) & 0xff),
                static_cast<unsigned>((h >> 24) & 0xff),
                static_cast<unsigned>((h >> 16) & 0xff),
                static_cast<unsigned>((h >> 8) & 0xff),
                static_cast<unsigned>(h & 0xff));
  return buf;
}

}  // namespace emu::agent::guest
