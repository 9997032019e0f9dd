"""Write a Sphinx intersphinx inventory (objects.inv format) for the Ansible docs labels
that antsibull-docs' generated pages refer to, so that the docsite builds offline with
warnings as errors. Each entry points at the real page on docs.ansible.com.

    python3 tests/docsite/inventory.py OUT.inv
"""
import sys
import zlib

# label -> (page below https://docs.ansible.com/projects/ansible/devel/, title)
LABELS = {
    'common_return_values': ('reference_appendices/common_return_values.html', 'Return Values'),
    'ansible_configuration_settings': ('reference_appendices/config.html', 'Ansible Configuration Settings'),
    'module_plugins': ('plugins/module.html', 'Modules'),
    'playbooks_tags': ('playbook_guide/playbooks_tags.html', 'Tags'),
    'playbooks_reuse_roles': ('playbook_guide/playbooks_reuse_roles.html', 'Roles'),
    'check_mode_dry': ('playbook_guide/playbooks_checkmode.html', 'Validating tasks: check mode and diff mode'),
}


def main(path):
    lines = []
    for label, (page, title) in sorted(LABELS.items()):
        anchor = label.replace('_', '-')
        lines.append('%s std:label -1 %s#%s %s' % (label, page, anchor, title))
    header = ('# Sphinx inventory version 2\n# Project: Ansible\n# Version: devel\n'
              '# The remainder of this file is compressed using zlib.\n')
    with open(path, 'wb') as handle:
        handle.write(header.encode('utf-8'))
        handle.write(zlib.compress(('\n'.join(lines) + '\n').encode('utf-8')))


if __name__ == '__main__':
    main(sys.argv[1])
