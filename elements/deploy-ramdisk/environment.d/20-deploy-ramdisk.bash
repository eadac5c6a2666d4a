# Sourced after the ramdisk element's 10-ramdisk.bash. The deploy agent writes disks behind
# virtio-blk, virtio-scsi and SATA (AHCI) controllers: add those drivers to the ramdisk's module
# list (the ramdisk element adds their dependencies). mkfs.vfat and mtools write the config drive
# without mounting it, so no vfat module is needed.
export DIB_RAMDISK_MODULES="$DIB_RAMDISK_MODULES virtio_scsi sd_mod ahci"
