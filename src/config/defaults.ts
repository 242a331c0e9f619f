/**
 * containerd's default configuration trees, as `containerd config default`
 * prints them.
 *
 * Version 2 is containerd 1.6.20 on Linux (the version Debian 12 ships, the
 * oracle the tests compare against). Deliberate differences, kept in
 * DELIBERATE_V2_DIFFERENCES so the comparison test lists them: none in
 * values today. Notes for other 1.x builds: upstream release binaries also
 * print the tracing plugins (`io.containerd.internal.v1.tracing`,
 * `io.containerd.tracing.processor.v1.otlp`), which Debian builds without;
 * 1.7 adds keys (cdi_spec_dirs, enable_cdi, image_pull_progress_timeout,
 * drain_exec_sync_io_timeout, nri and transfer plugins, ...) and moves the
 * sandbox image to pause:3.8. containerd ignores sections of plugins it does
 * not have, so 1.6's tree is the safe common ground.
 *
 * Version 3 is containerd 2.0.0, rebuilt from its plugin registrations
 * (default config structs, in struct order, which is the order go-toml v2
 * writes): CRI is split into `io.containerd.cri.v1.images`,
 * `io.containerd.cri.v1.runtime` and the streaming server in
 * `io.containerd.grpc.v1.cri`; the sandbox image is `pinned_images.sandbox`;
 * runc's options no longer carry SystemdCgroup (2.x detects it); monitors are
 * `io.containerd.monitor.{task,container}.v1`. Nil Go maps are not written
 * by go-toml v2, so e.g. `registry.mirrors` and `[proxy_plugins]` are absent.
 */
import type { TomlTable } from './toml.js';

export const CRI_V2 = 'io.containerd.grpc.v1.cri';
export const CRI_IMAGES_V3 = 'io.containerd.cri.v1.images';
export const CRI_RUNTIME_V3 = 'io.containerd.cri.v1.runtime';
export const OVERLAYFS = 'io.containerd.snapshotter.v1.overlayfs';
export const NATIVE = 'io.containerd.snapshotter.v1.native';

/** What `containerd config default` of 1.6.20 differs in from ours, by TOML path; empty means none. */
export const DELIBERATE_V2_DIFFERENCES: readonly string[] = [];

const ocicryptKeys = ['--decryption-keys-path', '/etc/containerd/ocicrypt/keys'];
const ocicryptEnv = ['OCICRYPT_KEYPROVIDER_CONFIG=/etc/containerd/ocicrypt/ocicrypt_keyprovider.conf'];

/** A CRI runtime entry of 1.x with every field at Go's zero value, as containerd prints map elements. */
export function zeroRuntimeV2(): TomlTable {
  return {
    base_runtime_spec: '',
    cni_conf_dir: '',
    cni_max_conf_num: 0n,
    container_annotations: [],
    pod_annotations: [],
    privileged_without_host_devices: false,
    runtime_engine: '',
    runtime_path: '',
    runtime_root: '',
    runtime_type: '',
    options: {},
  };
}

/** runc's options as 1.6 lists them (the fields of runc's Options message). */
export function runcOptionsV2(): TomlTable {
  return {
    BinaryName: '',
    CriuImagePath: '',
    CriuPath: '',
    CriuWorkPath: '',
    IoGid: 0n,
    IoUid: 0n,
    NoNewKeyring: false,
    NoPivotRoot: false,
    Root: '',
    ShimCgroup: '',
    SystemdCgroup: false,
  };
}

function criV2(): TomlTable {
  return {
    device_ownership_from_security_context: false,
    disable_apparmor: false,
    disable_cgroup: false,
    disable_hugetlb_controller: true,
    disable_proc_mount: false,
    disable_tcp_service: true,
    enable_selinux: false,
    enable_tls_streaming: false,
    enable_unprivileged_icmp: false,
    enable_unprivileged_ports: false,
    ignore_image_defined_volumes: false,
    max_concurrent_downloads: 3n,
    max_container_log_line_size: 16384n,
    netns_mounts_under_state_dir: false,
    restrict_oom_score_adj: false,
    sandbox_image: 'registry.k8s.io/pause:3.6',
    selinux_category_range: 1024n,
    stats_collect_period: 10n,
    stream_idle_timeout: '4h0m0s',
    stream_server_address: '127.0.0.1',
    stream_server_port: '0',
    systemd_cgroup: false,
    tolerate_missing_hugetlb_controller: true,
    unset_seccomp_profile: '',
    cni: { bin_dir: '/opt/cni/bin', conf_dir: '/etc/cni/net.d', conf_template: '', ip_pref: '', max_conf_num: 1n },
    containerd: {
      default_runtime_name: 'runc',
      disable_snapshot_annotations: true,
      discard_unpacked_layers: false,
      ignore_rdt_not_enabled_errors: false,
      no_pivot: false,
      snapshotter: 'overlayfs',
      default_runtime: zeroRuntimeV2(),
      runtimes: { runc: { ...zeroRuntimeV2(), runtime_type: 'io.containerd.runc.v2', options: runcOptionsV2() } },
      untrusted_workload_runtime: zeroRuntimeV2(),
    },
    image_decryption: { key_model: 'node' },
    registry: { config_path: '', auths: {}, configs: {}, headers: {}, mirrors: {} },
    x509_key_pair_streaming: { tls_cert_file: '', tls_key_file: '' },
  };
}

export function defaultTreeV2(): TomlTable {
  return {
    disabled_plugins: [],
    imports: [],
    oom_score: 0n,
    plugin_dir: '',
    required_plugins: [],
    root: '/var/lib/containerd',
    state: '/run/containerd',
    temp: '',
    version: 2n,
    cgroup: { path: '' },
    debug: { address: '', format: '', gid: 0n, level: '', uid: 0n },
    grpc: {
      address: '/run/containerd/containerd.sock',
      gid: 0n,
      max_recv_message_size: 16777216n,
      max_send_message_size: 16777216n,
      tcp_address: '',
      tcp_tls_ca: '',
      tcp_tls_cert: '',
      tcp_tls_key: '',
      uid: 0n,
    },
    metrics: { address: '', grpc_histogram: false },
    plugins: {
      'io.containerd.gc.v1.scheduler': { deletion_threshold: 0n, mutation_threshold: 100n, pause_threshold: 0.02, schedule_delay: '0s', startup_delay: '100ms' },
      [CRI_V2]: criV2(),
      'io.containerd.internal.v1.opt': { path: '/opt/containerd' },
      'io.containerd.internal.v1.restart': { interval: '10s' },
      'io.containerd.metadata.v1.bolt': { content_sharing_policy: 'shared' },
      'io.containerd.monitor.v1.cgroups': { no_prometheus: false },
      'io.containerd.runtime.v1.linux': { no_shim: false, runtime: 'runc', runtime_root: '', shim: 'containerd-shim', shim_debug: false },
      'io.containerd.runtime.v2.task': { platforms: ['linux/amd64'], sched_core: false },
      'io.containerd.service.v1.diff-service': { default: ['walking'] },
      'io.containerd.service.v1.tasks-service': { rdt_config_file: '' },
      'io.containerd.snapshotter.v1.aufs': { root_path: '' },
      'io.containerd.snapshotter.v1.btrfs': { root_path: '' },
      'io.containerd.snapshotter.v1.devmapper': { async_remove: false, base_image_size: '', discard_blocks: false, fs_options: '', fs_type: '', pool_name: '', root_path: '' },
      [NATIVE]: { root_path: '' },
      [OVERLAYFS]: { root_path: '', upperdir_label: false },
      'io.containerd.snapshotter.v1.zfs': { root_path: '' },
    },
    proxy_plugins: {},
    stream_processors: streamProcessors(),
    timeouts: {
      'io.containerd.timeout.bolt.open': '0s',
      'io.containerd.timeout.shim.cleanup': '5s',
      'io.containerd.timeout.shim.load': '5s',
      'io.containerd.timeout.shim.shutdown': '3s',
      'io.containerd.timeout.task.state': '2s',
    },
    ttrpc: { address: '', gid: 0n, uid: 0n },
  };
}

/** The ocicrypt stream processors; fields in struct order (accepts, returns, path, args, env). */
function streamProcessors(): TomlTable {
  const sp = (accepts: string, returns: string): TomlTable => ({ accepts: [accepts], returns, path: 'ctd-decoder', args: [...ocicryptKeys], env: [...ocicryptEnv] });
  return {
    'io.containerd.ocicrypt.decoder.v1.tar': sp('application/vnd.oci.image.layer.v1.tar+encrypted', 'application/vnd.oci.image.layer.v1.tar'),
    'io.containerd.ocicrypt.decoder.v1.tar.gzip': sp('application/vnd.oci.image.layer.v1.tar+gzip+encrypted', 'application/vnd.oci.image.layer.v1.tar+gzip'),
  };
}

/** A CRI runtime entry of 2.x at Go's zero value, in struct order. */
export function zeroRuntimeV3(): TomlTable {
  return {
    runtime_type: '',
    runtime_path: '',
    pod_annotations: [],
    container_annotations: [],
    privileged_without_host_devices: false,
    privileged_without_host_devices_all_devices_allowed: false,
    base_runtime_spec: '',
    cni_conf_dir: '',
    cni_max_conf_num: 0n,
    snapshotter: '',
    sandboxer: '',
    io_type: '',
    options: {},
  };
}

/** runc options of 2.0's default (a Go map, so written sorted; no SystemdCgroup). */
export function runcOptionsV3(): TomlTable {
  return { BinaryName: '', CriuImagePath: '', CriuWorkPath: '', IoGid: 0n, IoUid: 0n, NoNewKeyring: false, Root: '', ShimCgroup: '' };
}

export function defaultTreeV3(): TomlTable {
  return {
    version: 3n,
    root: '/var/lib/containerd',
    state: '/run/containerd',
    temp: '',
    plugin_dir: '',
    disabled_plugins: [],
    required_plugins: [],
    oom_score: 0n,
    imports: [],
    grpc: {
      address: '/run/containerd/containerd.sock',
      tcp_address: '',
      tcp_tls_ca: '',
      tcp_tls_cert: '',
      tcp_tls_key: '',
      uid: 0n,
      gid: 0n,
      max_recv_message_size: 16777216n,
      max_send_message_size: 16777216n,
    },
    ttrpc: { address: '', uid: 0n, gid: 0n },
    debug: { address: '', uid: 0n, gid: 0n, level: '', format: '' },
    metrics: { address: '', grpc_histogram: false },
    plugins: {
      [CRI_IMAGES_V3]: {
        snapshotter: 'overlayfs',
        disable_snapshot_annotations: true,
        discard_unpacked_layers: false,
        max_concurrent_downloads: 3n,
        image_pull_progress_timeout: '5m0s',
        image_pull_with_sync_fs: false,
        stats_collect_period: 10n,
        pinned_images: { sandbox: 'registry.k8s.io/pause:3.10' },
        registry: { config_path: '' },
        image_decryption: { key_model: 'node' },
      },
      [CRI_RUNTIME_V3]: {
        enable_selinux: false,
        selinux_category_range: 1024n,
        max_container_log_line_size: 16384n,
        disable_apparmor: false,
        restrict_oom_score_adj: false,
        disable_proc_mount: false,
        unset_seccomp_profile: '',
        tolerate_missing_hugetlb_controller: true,
        disable_hugetlb_controller: true,
        device_ownership_from_security_context: false,
        ignore_image_defined_volumes: false,
        netns_mounts_under_state_dir: false,
        enable_unprivileged_ports: true,
        enable_unprivileged_icmp: true,
        enable_cdi: true,
        cdi_spec_dirs: ['/etc/cdi', '/var/run/cdi'],
        drain_exec_sync_io_timeout: '0s',
        ignore_deprecation_warnings: [],
        containerd: {
          default_runtime_name: 'runc',
          ignore_blockio_not_enabled_errors: false,
          ignore_rdt_not_enabled_errors: false,
          runtimes: { runc: { ...zeroRuntimeV3(), runtime_type: 'io.containerd.runc.v2', sandboxer: 'podsandbox', options: runcOptionsV3() } },
        },
        cni: { bin_dir: '/opt/cni/bin', conf_dir: '/etc/cni/net.d', max_conf_num: 1n, setup_serially: false, conf_template: '', ip_pref: '', use_internal_loopback: false },
      },
      'io.containerd.gc.v1.scheduler': { pause_threshold: 0.02, deletion_threshold: 0n, mutation_threshold: 100n, schedule_delay: '0s', startup_delay: '100ms' },
      [CRI_V2]: {
        disable_tcp_service: true,
        stream_server_address: '127.0.0.1',
        stream_server_port: '0',
        stream_idle_timeout: '4h0m0s',
        enable_tls_streaming: false,
        x509_key_pair_streaming: { tls_cert_file: '', tls_key_file: '' },
      },
      'io.containerd.image-verifier.v1.bindir': { bin_dir: '/opt/containerd/image-verifier/bin', max_verifiers: 10n, per_verifier_timeout: '10s' },
      'io.containerd.internal.v1.opt': { path: '/opt/containerd' },
      'io.containerd.internal.v1.tracing': {},
      'io.containerd.metadata.v1.bolt': { content_sharing_policy: 'shared' },
      'io.containerd.monitor.container.v1.restart': { interval: '10s' },
      'io.containerd.monitor.task.v1.cgroups': { no_prometheus: false },
      'io.containerd.nri.v1.nri': {
        disable: false,
        socket_path: '/var/run/nri/nri.sock',
        plugin_path: '/opt/nri/plugins',
        plugin_config_path: '/etc/nri/conf.d',
        plugin_registration_timeout: '5s',
        plugin_request_timeout: '2s',
        disable_connections: false,
      },
      'io.containerd.runtime.v2.task': { platforms: ['linux/amd64'] },
      'io.containerd.service.v1.diff-service': { default: ['walking'], sync_fs: false },
      'io.containerd.service.v1.tasks-service': { blockio_config_file: '', rdt_config_file: '' },
      'io.containerd.shim.v1.manager': { env: [] },
      'io.containerd.snapshotter.v1.blockfile': { root_path: '', scratch_file: '', fs_type: '', mount_options: [], recreate_scratch: false },
      'io.containerd.snapshotter.v1.btrfs': { root_path: '' },
      'io.containerd.snapshotter.v1.devmapper': { root_path: '', pool_name: '', base_image_size: '', async_remove: false, discard_blocks: false, fs_type: '', fs_options: '' },
      [NATIVE]: { root_path: '' },
      [OVERLAYFS]: { root_path: '', upperdir_label: false, sync_remove: false, slow_chown: false, mount_options: [] },
      'io.containerd.snapshotter.v1.zfs': { root_path: '' },
      'io.containerd.tracing.processor.v1.otlp': {},
      'io.containerd.transfer.v1.local': { max_concurrent_downloads: 3n, max_concurrent_uploaded_layers: 3n, config_path: '' },
    },
    cgroup: { path: '' },
    timeouts: {
      'io.containerd.timeout.bolt.open': '0s',
      'io.containerd.timeout.metrics.shimstats': '2s',
      'io.containerd.timeout.shim.cleanup': '5s',
      'io.containerd.timeout.shim.load': '5s',
      'io.containerd.timeout.shim.shutdown': '3s',
      'io.containerd.timeout.task.state': '2s',
    },
    stream_processors: streamProcessors(),
  };
}

export function defaultTree(version: number): TomlTable {
  return version >= 3 ? defaultTreeV3() : defaultTreeV2();
}

/**
 * Version 1 files name plugins by their short id (`[plugins.cri]`); the
 * mapping is containerd 2.0's v1 migration table (the ids 1.x registered).
 */
const V1_PLUGIN_IDS: Record<string, string> = {
  cri: CRI_V2,
  cgroups: 'io.containerd.monitor.v1.cgroups',
  linux: 'io.containerd.runtime.v1.linux',
  scheduler: 'io.containerd.gc.v1.scheduler',
  bolt: 'io.containerd.metadata.v1.bolt',
  task: 'io.containerd.runtime.v2.task',
  opt: 'io.containerd.internal.v1.opt',
  restart: 'io.containerd.internal.v1.restart',
  tracing: 'io.containerd.internal.v1.tracing',
  otlp: 'io.containerd.tracing.processor.v1.otlp',
  aufs: 'io.containerd.snapshotter.v1.aufs',
  btrfs: 'io.containerd.snapshotter.v1.btrfs',
  devmapper: 'io.containerd.snapshotter.v1.devmapper',
  native: NATIVE,
  overlayfs: OVERLAYFS,
  zfs: 'io.containerd.snapshotter.v1.zfs',
};

/** The version 2 plugin URI for a version 1 plugin key (keys with a dot are already URIs). */
export function v1PluginURI(id: string): string {
  if (id.includes('.')) return id;
  if (V1_PLUGIN_IDS[id]) return V1_PLUGIN_IDS[id]!;
  if (id.endsWith('-service')) return `io.containerd.service.v1.${id}`;
  return `io.containerd.grpc.v1.${id}`;
}
