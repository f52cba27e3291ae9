# The screen tests' fake Puppet: only the version constant matters to certwiz.
module Puppet
  PUPPETVERSION = '7.23.0'
end
