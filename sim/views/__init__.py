"""What people see: figures, the HTML report and dashboard, tables and files for Excel,
and the Chinese and English words of all of them."""
